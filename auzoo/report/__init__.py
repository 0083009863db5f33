"""Reporting: published rows, result tables, markdown, plots and paired statistics.

* :mod:`auzoo.report.published`  published rows as registered data
* :mod:`auzoo.report.tables`     results.csv (mean ± std over seeds) and cross_results.csv
* :mod:`auzoo.report.markdown`   results.md
* :mod:`auzoo.report.plots`      per-model charts and the all-models view
* :mod:`auzoo.report.stats`      paired per-subject comparison with bootstrap CIs
* :mod:`auzoo.report.write`      all of them for one results folder
"""
