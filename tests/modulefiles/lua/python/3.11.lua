-- Test module: Debian's Python 3.11 (python3 on PATH), like the clusters' python/X.Y.
local support = pathJoin(myFileName():match("^(.*)/lua/[^/]+/[^/]+$"), "support")
whatis("Python 3.11 (Debian's /usr/bin/python3.11)")
prepend_path("PATH", pathJoin(support, "python311-bin"))
