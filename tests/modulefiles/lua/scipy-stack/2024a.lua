-- Test module: a Python package on PYTHONPATH and a variable, like the clusters' scipy-stack.
local support = pathJoin(myFileName():match("^(.*)/lua/[^/]+/[^/]+$"), "support")
whatis("kctl_modpkg on PYTHONPATH")
prepend_path("PYTHONPATH", pathJoin(support, "site-packages"))
setenv("KCTL_SCIPY_STACK", "2024a")
