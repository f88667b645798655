"""What is derived from a job's events, once, for every front end.

Timeline rows (:mod:`.activity`), the delegation tree (:mod:`.runtree`), the filter
grammar and its use on rows (:mod:`.filtering`, :mod:`.timeline_filter`, :mod:`.wireview`)
and ``perstack log``'s selection and text (:mod:`.logview`, :mod:`.logview_text`). The CLI
and the workbench both read jobs through these modules; none of them imports a UI.
"""
