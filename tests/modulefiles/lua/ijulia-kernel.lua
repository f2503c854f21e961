-- Test module: a stand-in julia on PATH and an IJulia depot, like the clusters' ijulia-kernel.
local support = pathJoin(myFileName():match("^(.*)/lua/[^/]+$"), "support")
whatis("stand-in julia that records how it was started")
prepend_path("PATH", pathJoin(support, "julia-bin"))
setenv("JULIA_DEPOT_PATH", pathJoin(support, "julia-depot") .. ":")
