-- Test module: Debian's R (R and Rscript on PATH) and a module library on R_LIBS, like the clusters' r/X.Y.
local support = pathJoin(myFileName():match("^(.*)/lua/[^/]+/[^/]+$"), "support")
whatis("R 4.2 (Debian's /usr/bin/R)")
prepend_path("PATH", pathJoin(support, "r-bin"))
prepend_path("R_LIBS", pathJoin(support, "r-module-library"))
setenv("KERNELCTL_TEST_R_MODULE", "r/4.2")
