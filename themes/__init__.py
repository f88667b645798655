"""Workbench themes bundled with Perstack: TOML data files, read by ``workbench.theming``."""

from __future__ import annotations
