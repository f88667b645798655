"""The workbench's modal screens: row detail, interactive answer, help."""
