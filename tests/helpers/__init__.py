"""What the tests share, by what it is (fixtures are in the conftest.py files).

* ``archives``: release archives, index documents, wheels, an emsdk stand-in, built for real;
* ``servers``: the loopback release server, a forward proxy, a stalling server;
* ``services``: nginx and an S3 API (moto) as real processes, and mirrors published on them;
* ``cli``: the real ``xbuildenv`` in a subprocess with a private home, and checks on results;
* ``faults``: the fault suite's counters, root checks, decoys, tmpfs, World/Case/Arena;
* ``interop``: venvs with pyodide-build or cibuildwheel, and pyodide-build's known answers.
"""
