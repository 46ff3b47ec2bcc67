package broker

import "testing"

// TestDeniedHijackNames: every loader, interpreter, shell, git, TLS and proxy
// name the attack run got accepted (issue 11, item 4), and their kin, are
// refused by the built-in list, in any case; ordinary secret names are not.
func TestDeniedHijackNames(t *testing.T) {
	v := NewValidator(Limits{}, nil)
	denied := []string{
		// from the attack run
		"GLIBC_TUNABLES", "PYTHONHOME", "PERL5LIB", "NODE_PATH", "_JAVA_OPTIONS", "DOTNET_STARTUP_HOOKS",
		"PROMPT_COMMAND", "PS4", "SHELLOPTS", "GIT_SSH_COMMAND", "HTTPS_PROXY", "SSL_CERT_FILE",
		"NODE_TLS_REJECT_UNAUTHORIZED",
		// their kin
		"HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "FTP_PROXY", "https_proxy", "http_proxy", "no_proxy", "all_proxy", "Https_Proxy",
		"SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "SSLKEYLOGFILE", "OPENSSL_CONF",
		"GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_GLOBAL",
		"GIT_SSH", "GIT_ASKPASS", "GIT_EXEC_PATH", "GIT_PROXY_COMMAND", "GIT_SSL_NO_VERIFY", "SSH_ASKPASS",
		"GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE", "NIS_PATH", "NLSPATH",
		"RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR", "LD_AUDIT", "DYLD_LIBRARY_PATH",
		"PYTHONUSERBASE", "PYTHONINSPECT", "PYTHONBREAKPOINT", "PYTHONWARNINGS", "PYTHONHTTPSVERIFY",
		"PERLLIB", "PERL5DB", "RUBYLIB", "GEM_PATH", "GEM_HOME", "JDK_JAVA_OPTIONS", "CLASSPATH",
		"DOTNET_ADDITIONAL_DEPS", "COR_PROFILER", "CORECLR_PROFILER_PATH", "NODE_REPL_EXTERNAL_MODULE",
		"PS1", "PS0", "BASH_FUNC_X", "BASH_XTRACEFD", "BASHOPTS", "CDPATH", "ZDOTDIR", "GLOBIGNORE",
		"EDITOR", "VISUAL", "PAGER", "LESSOPEN", "GOFLAGS", "GOPROXY",
	}
	for _, n := range denied {
		if v.CheckName(n) == "" {
			t.Errorf("CheckName(%q) accepted a hijack name", n)
		}
	}
	for _, n := range []string{"OPENAI_API_KEY", "GITHUB_TOKEN", "GITLAB_TOKEN", "PROXY_TOKEN", "MY_HTTPS_PROXY_USER", "SSL_PASSWORD", "NODE_ENV_TOKEN", "PYTHON_TOKEN"} {
		if m := v.CheckName(n); m != "" {
			t.Errorf("CheckName(%q) = %q, want ok", n, m)
		}
	}
}
