"""The command line: click commands, one module per group, over :mod:`sloth_kubernetes.api`."""
