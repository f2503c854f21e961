-- Test module: a value full of shell and Python syntax aimed at $KCTL_PWNED; it must
-- reach the kernel as data and create nothing.
local p = os.getenv("KCTL_PWNED") or "/nonexistent/kctl-pwned"
setenv("KCTL_HOSTILE", 'x"; import os; os.system("touch ' .. p .. '") #\' $(touch ' .. p .. ') `touch ' .. p .. '`; touch ' .. p)
