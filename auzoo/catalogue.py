"""One catalogue mechanism for everything auzoo looks up by name.

A :class:`Catalogue` maps names to entries and remembers who provided each:
every part registry (:class:`auzoo.registry.AuzooRegistry` keeps its entries
in one), the model configs (:data:`auzoo.registry.CONFIGS`) and the published
rows (:mod:`auzoo.report.published`, :mod:`auzoo.report.published_intensity`).
All of them follow one clash rule:

* registering a name again with the same entry changes nothing;
* ``force=True`` replaces whatever the name held (and lifts a refusal);
* outside plugin loading, registering a taken name with another entry is a
  :class:`RegistryConflictError` naming both providers;
* while a plugin loads (:func:`registering_as` with ``plugin=True``) that
  registration is held back as a claim. Once every plugin has loaded,
  :meth:`Catalogue.settle` decides: auzoo's own name stays auzoo's; a name
  that several plugins claim is refused in all of them (``ambiguous``, and
  looking it up is an error naming every provider); a lone claim gets the name.
"""
from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from typing import Callable, Dict, Hashable, Iterator, List, NamedTuple, Optional, Sequence

BUILTIN = "auzoo (built-in)"

# Who registers right now (auzoo itself, or the plugin being loaded), and
# whether a clash is held back as a claim (plugin loading) or raised.
_provider: str = BUILTIN
_plugin_loading: bool = False


@contextlib.contextmanager
def registering_as(provider: str, plugin: bool = False) -> Iterator[None]:
    """Registrations inside are ``provider``'s; with ``plugin`` a clash is held
    back as a claim for :meth:`Catalogue.settle` instead of raised."""
    global _provider, _plugin_loading
    previous = _provider, _plugin_loading
    _provider, _plugin_loading = provider, plugin
    try:
        yield
    finally:
        _provider, _plugin_loading = previous


def current_provider() -> str:
    """Who is registering right now: auzoo itself, or the plugin being loaded."""
    return _provider


def caller_location(depth: int = 2) -> str:
    """file:line of the code ``depth`` frames up (for data registered by a call)."""
    frame = inspect.currentframe()
    for _ in range(depth):  # walking frames reads no source, unlike inspect.stack()
        frame = frame.f_back if frame is not None else None
    if frame is None:
        return "?"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


class RegistryConflictError(KeyError):
    """A name registered twice, or refused as ambiguous; the message names the providers."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


@dataclass(frozen=True)
class Provider:
    """Who registered a name, and where its definition stands."""

    name: str  # "auzoo (built-in)" or "plugin NAME (DIST VERSION)"
    where: str  # file:line of the definition, or a config file's path

    def __str__(self) -> str:
        return f"{self.name} at {self.where}"


@dataclass(frozen=True)
class Claim:
    """A registration held back because its name was taken."""

    provider: Provider
    obj: object


class Refusal(NamedTuple):
    """A claim :meth:`Catalogue.settle` turned down, and why."""

    name: Hashable
    provider: Provider
    reason: str  # "auzoo's own has this name (…)" or "also provided by …"


def ambiguity_message(label: str, providers: Sequence[Provider]) -> str:
    listed = "; ".join(str(p) for p in providers)
    return (f"{label} is ambiguous: it is provided by {len(providers)} plugins "
            f"({listed}), so auzoo refuses it in all of them. Uninstall one of them, "
            "or ask its authors to rename it.")


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # an entry whose == is not a plain truth value
        return False


class Catalogue:
    """Names -> entries, each with its :class:`Provider`, under the one clash rule.

    Args:
        kind: what an entry is, for messages ("head", "model config").
        entries: the dict to keep entries in (an mmengine Registry's own).
        label: ``name -> text`` naming one entry in messages; default
            ``"KIND 'NAME'"``.
    """

    def __init__(self, kind: str, entries: Optional[dict] = None,
                 label: Optional[Callable[[Hashable], str]] = None):
        self.kind = kind
        self.entries: dict = {} if entries is None else entries
        self.providers: Dict[Hashable, Provider] = {}
        self.claims: Dict[Hashable, List[Claim]] = {}
        self.ambiguous: Dict[Hashable, List[Provider]] = {}
        self._label = label

    def label(self, name: Hashable) -> str:
        return self._label(name) if self._label else f"{self.kind} '{name}'"

    @staticmethod
    def text(name: Hashable) -> str:
        """``name`` as ``auzoo list plugins`` prints it (a tuple key joined by '/')."""
        return "/".join(map(str, name)) if isinstance(name, tuple) else str(name)

    # ------------------------------------------------------------- registering

    def register(self, names: Sequence[Hashable], entry, where: str, force: bool = False) -> None:
        """Register ``entry`` under every one of ``names`` (all or none, outside
        plugin loading), provided by the current provider, defined at ``where``."""
        new = Provider(_provider, where)
        taken = [name for name in names if not force and self._taken(name, entry)]
        if taken and not _plugin_loading:
            name = taken[0]
            self.check(name)  # refused as ambiguous: say so, naming every provider
            raise RegistryConflictError(
                f"{self.label(name)} is registered twice: first by "
                f"{self.providers.get(name, '?')}, then by {new}. "
                "Rename one of them, or pass force=True to replace it.")
        for name in names:
            if name in taken:
                self.claims.setdefault(name, []).append(Claim(new, entry))
            elif force or name not in self.entries:
                self.ambiguous.pop(name, None)
                self.entries[name], self.providers[name] = entry, new

    def _taken(self, name: Hashable, entry) -> bool:
        if name in self.ambiguous:
            return True
        return name in self.entries and not _same(self.entries[name], entry)

    def remove(self, name: Hashable) -> None:
        self.entries.pop(name, None)
        self.providers.pop(name, None)

    # ----------------------------------------------------------------- looking up

    def check(self, name: Hashable) -> None:
        """Raise :class:`RegistryConflictError` if ``name`` is refused as ambiguous."""
        if name in self.ambiguous:
            raise RegistryConflictError(ambiguity_message(self.label(name), self.ambiguous[name]))

    def get(self, name: Hashable, default=None):
        """The entry of ``name`` (``default`` if none); an ambiguous name is an error."""
        self.check(name)
        return self.entries.get(name, default)

    def names_from(self, provider: str) -> List[Hashable]:
        """The names ``provider`` (a :attr:`Provider.name`) holds."""
        return [name for name, p in self.providers.items() if p.name == provider]

    # ----------------------------------------------------------- plugin loading

    def withdraw(self, provider: str) -> None:
        """Undo everything ``provider`` registered or claimed (a plugin that failed)."""
        for name in self.names_from(provider):
            self.remove(name)
        for name, claims in list(self.claims.items()):
            claims[:] = [c for c in claims if c.provider.name != provider]
            if not claims:
                del self.claims[name]

    def settle(self) -> List[Refusal]:
        """Decide every claim held back while plugins loaded (the rule above);
        returns each refused party, for the plugins' reports."""
        refused: List[Refusal] = []
        for name, claims in list(self.claims.items()):
            holder = self.providers.get(name)
            if holder is not None and holder.name == BUILTIN:
                refused += [Refusal(name, c.provider, f"auzoo's own has this name ({holder})")
                            for c in claims]
            else:
                parties = [holder] if holder is not None else list(self.ambiguous.get(name, []))
                parties += [c.provider for c in claims]
                if len(parties) == 1:
                    self.entries[name], self.providers[name] = claims[0].obj, claims[0].provider
                else:
                    self.remove(name)
                    self.ambiguous[name] = parties
                    for party in parties:
                        others = "; ".join(str(p) for p in parties if p is not party)
                        refused.append(Refusal(name, party, f"also provided by {others}"))
            del self.claims[name]
        return refused

    # ------------------------------------------------------------------ state

    def save(self) -> tuple:
        """Everything the catalogue holds, for :meth:`restore` (tests, experiments)."""
        return (dict(self.entries), dict(self.providers),
                {k: list(v) for k, v in self.claims.items()}, dict(self.ambiguous))

    def restore(self, state: tuple) -> None:
        for live, saved in zip((self.entries, self.providers, self.claims, self.ambiguous), state):
            live.clear()
            live.update(saved)


# Every catalogue, by the key `auzoo list plugins` names it with ("heads",
# "configs", "published"): plugin loading settles and rolls back all of them.
_CATALOGUES: Dict[str, Catalogue] = {}


def enrol(key: str, catalogue: Catalogue) -> Catalogue:
    """Put ``catalogue`` under plugin loading's rule, known as ``key``."""
    if _CATALOGUES.get(key, catalogue) is not catalogue:
        raise RegistryConflictError(f"two catalogues are called '{key}'")
    _CATALOGUES[key] = catalogue
    return catalogue


def catalogues() -> Dict[str, Catalogue]:
    """Every enrolled catalogue, by key."""
    return dict(_CATALOGUES)


__all__ = ["BUILTIN", "Catalogue", "Claim", "Provider", "Refusal", "RegistryConflictError",
           "ambiguity_message", "caller_location", "catalogues", "current_provider", "enrol",
           "registering_as"]
