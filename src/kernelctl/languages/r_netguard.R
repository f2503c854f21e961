# kernelctl netguard (written from kernelctl/languages/r_netguard.R): in warn mode one stderr
# line when a call needs the internet, in block mode an error at once instead of a TCP timeout.
local({
  mode <- Sys.getenv("@MODE_ENV@")
  if (!mode %in% c("warn", "block")) return(invisible())
  hints <- @HINTS@
  private <- @NETS@
  allow <- strsplit(Sys.getenv("@ALLOW_ENV@"), "[[:space:],]+")[[1]]
  allow <- tolower(allow[nzchar(allow) & !grepl("$", allow, fixed = TRUE)])
  ip4 <- function(x) {
    p <- suppressWarnings(as.numeric(strsplit(x, ".", fixed = TRUE)[[1]]))
    if (length(p) == 4 && !anyNA(p)) sum(p * 256^(3:0)) else NA
  }
  in_net <- function(host, net) {
    parts <- strsplit(net, "/", fixed = TRUE)[[1]]
    a <- ip4(host); n <- ip4(parts[1]); size <- 2^(32 - if (length(parts) > 1) as.numeric(parts[2]) else 32)
    !is.na(a) && !is.na(n) && a %/% size == n %/% size
  }
  internet_host <- function(host) {
    host <- sub("[.]$", "", tolower(sub("^\\[(.*)\\]$", "\\1", host)))
    local <- host %in% c("", "localhost", "::1", allow) || grepl("[.](localhost|local|internal|localdomain)$", host) ||
      any(startsWith(allow, ".") & (endsWith(host, allow) | paste0(".", host) == allow)) ||
      any(vapply(c(private, allow), in_net, NA, host = host))
    !local
  }
  # The first internet URL among x (http(s), ftp(s)), or NULL.
  internet_url <- function(x) {
    if (!is.character(x)) return(NULL)
    m <- regmatches(x, regexec("^(https?|ftps?)://(\\[[^]]*\\]|[^]/:?#[]*)", x, ignore.case = TRUE))
    for (i in seq_along(m)) if (length(m[[i]]) && internet_host(m[[i]][3])) return(x[i])
    NULL
  }
  say <- function(rule, what) {
    line <- sprintf("@PREFIX@ %s: %s needs the internet \u2014 %s", rule, what, hints[[rule]])
    if (mode == "block") stop(paste("block mode:", line), call. = FALSE)
    message(line)
  }
  installers <- list(remotes = c("install_github", "install_gitlab", "install_bitbucket", "install_url", "install_git"),
                     BiocManager = "install")
  guarded <- c("download.file", "url", "file", "install.packages", unlist(installers))
  # Inside another guarded call (install.packages downloading its index): already said once.
  nested <- function() sum(vapply(sys.calls(), function(call) {
    f <- call[[1]]; if (is.call(f)) f <- f[[length(f)]]
    is.name(f) && as.character(f) %in% guarded
  }, NA)) > 1
  # check(frame) returns c(rule, what) or NULL; its own errors never reach the cell.
  tracer <- function(check) function() {
    hit <- tryCatch(if (!nested()) check(parent.frame()), error = function(e) NULL)
    if (length(hit) == 2) say(hit[1], hit[2])
  }
  guard <- function(name, ns, check) try(suppressMessages(
    trace(name, tracer = tracer(check), where = asNamespace(ns), print = FALSE)), silent = TRUE)
  reads <- function(arg, fun) function(f) {
    url <- internet_url(get(arg, envir = f))
    if (!is.null(url)) c(if (fun == "download.file") "http-request" else "remote-read", sprintf("%s(\"%s\")", fun, url))
  }
  guard("download.file", "utils", reads("url", "download.file"))
  guard("url", "base", reads("description", "url"))
  guard("file", "base", reads("description", "file"))
  guard("install.packages", "utils", function(f) {
    where <- if (eval(quote(missing(contriburl)), f)) f$repos else f$contriburl
    if (!is.null(where) && ("@CRAN@" %in% where || !is.null(internet_url(where))))
      c("r-cran-install", sprintf("install.packages() from %s", paste(where, collapse = ", ")))
  })
  for (pkg in names(installers)) local({
    pkg <- pkg
    rule <- if (pkg == "BiocManager") "r-bioc-install" else "r-remote-install"
    hook <- function(...) for (fun in installers[[pkg]])
      guard(fun, pkg, local({ what <- sprintf("%s::%s()", pkg, fun); function(f) c(rule, what) }))
    if (isNamespaceLoaded(pkg)) hook() else setHook(packageEvent(pkg, "onLoad"), hook)
  })
})
