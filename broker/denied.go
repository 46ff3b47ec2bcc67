package broker

// builtinDenied is the one built-in list of env var names a secret may not
// take: each would let a value change which code a sandbox process runs,
// where its traffic goes or which certificates it trusts, or would collide
// with the broker's and Vault's own settings. Matching is case-insensitive;
// a trailing "*" is a prefix. docs/security.md lists the families and why.
var builtinDenied = []string{
	// Process basics and the POSIX shell.
	"PATH", "HOME", "SHELL", "IFS", "ENV", "BASH_ENV", "BASH_*", "BASHOPTS", "SHELLOPTS",
	"PROMPT_COMMAND", "PS0", "PS1", "PS2", "PS3", "PS4", "CDPATH", "GLOBIGNORE", "ZDOTDIR",
	"HISTFILE", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "LESSOPEN", "LESSCLOSE",
	// Dynamic loaders (glibc's unsecvars.h list, musl, macOS dyld).
	"LD_*", "DYLD_*", "GLIBC_TUNABLES", "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN",
	"LOCPATH", "MALLOC_*", "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR",
	// Interpreters and runtimes: module paths, startup code, injected options.
	"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONINSPECT",
	"PYTHONBREAKPOINT", "PYTHONWARNINGS", "PYTHONEXECUTABLE", "PYTHONSAFEPATH", "PYTHONNOUSERSITE",
	"PYTHONPLATLIBDIR", "PYTHONPYCACHEPREFIX", "PYTHONHTTPSVERIFY",
	"PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB",
	"RUBYOPT", "RUBYLIB", "RUBYSHELL", "GEM_HOME", "GEM_PATH",
	"NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE",
	"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_HOME", "CLASSPATH",
	"DOTNET_STARTUP_HOOKS", "DOTNET_ADDITIONAL_DEPS", "DOTNET_SHARED_STORE", "DOTNET_ROOT",
	"COR_ENABLE_PROFILING", "COR_PROFILER", "COR_PROFILER_PATH", "CORECLR_*",
	"GOFLAGS", "GOPROXY", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOINSECURE", "GODEBUG",
	// git: commands it runs, config injected through the environment.
	"GIT_*", "SSH_ASKPASS", "SSH_ASKPASS_REQUIRE",
	// TLS trust and key material.
	"SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
	"NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "OPENSSL_CONF", "OPENSSL_ENGINES",
	"OPENSSL_MODULES", "AWS_CA_BUNDLE", "NIX_SSL_CERT_FILE",
	// Proxies (also lower case: matching ignores case).
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "FTP_PROXY", "RSYNC_PROXY", "GRPC_PROXY",
	// The broker's and Vault's own settings.
	"VAULT_*", "BROKER_*",
}

// DefaultDeniedNames returns a copy of the built-in denied names (a trailing
// "*" matches a prefix).
func DefaultDeniedNames() []string { return append([]string(nil), builtinDenied...) }
