"""Start moto's S3 server (``moto.server.main``, the ``moto_server`` command) for the tests.

One change to it: moto finds the service a request is for by listing its own package's
folders, ``os.listdir`` and an ``isdir`` for each of ~150, on every request
(``moto.backends.list_of_moto_modules``, a generator nothing caches). That was a quarter
of moto's CPU a request in ``bench/bench_temporal.py`` (py-spy), time no real S3 spends.
The folders do not change while the server runs, so the list is read once here.

With ``--quiet`` it also leaves out werkzeug's line per request (another 6% of its CPU;
``bench/bench_temporal.py --requests`` counts requests from those lines).

Usage: ``python tests/moto_launcher.py [--quiet] -H 127.0.0.1 -p PORT`` (``moto_server``'s
options).
"""

from __future__ import annotations

import logging
import sys

from moto import backends

_MODULES = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: iter(_MODULES)

from moto.server import main  # noqa: E402  (after the patch, which it reads per request)

if __name__ == "__main__":
    if "--quiet" in sys.argv:
        sys.argv.remove("--quiet")
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # errors still say why
    main()
