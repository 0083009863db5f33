"""auzoo's parts. Importing this package registers every built-in part."""
