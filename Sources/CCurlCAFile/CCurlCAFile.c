// Why this file exists: on Linux, URLSession (FoundationNetworking) drives
// libcurl and chooses CURLOPT_CAINFO itself: libcurl's built-in bundle
// (/etc/ssl/certs/ca-certificates.crt here), else the first of a fixed list
// of paths (EasyHandle.setCARootBundlePath()). Its only override, the
// `URLSessionCertificateAuthorityInfoFile` environment variable, is compiled in
// for Android only (`#if os(Android)`); SSL_CERT_FILE and
// CURL_CA_BUNDLE are not read either. So an operator's private CA cannot be
// configured through Foundation at all.
//
// How: FoundationNetworking hands every configured easy handle to
// curl_multi_add_handle() right before its transfer starts. This file defines
// that function in the executable, which the dynamic linker then prefers over
// libcurl's (ELF symbol interposition; the executable must export it, see the
// linker setting in Package.swift). It sets CURLOPT_CAINFO on the handle when a
// CA file was configured, and always passes on to libcurl's own function. Peer
// and host name verification are left exactly as URLSession set them (on).
#ifdef __linux__
#define _GNU_SOURCE
#include "CCurlCAFile.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { CCURL_OPT_CAINFO = 10065 };  // CURLOPT_CAINFO: CURLOPTTYPE_STRINGPOINT (10000) + 65

typedef int (*add_handle_function)(void *multi, void *easy);
typedef int (*easy_setopt_function)(void *easy, int option, ...);

static _Atomic(const char *) configured_ca_file = NULL;
static _Atomic(easy_setopt_function) libcurl_easy_setopt = NULL;

// CurlTransport's handles carry their own CA file (or none): libcurl's easy
// interface adds each to a multi handle of its own through this same function,
// so they are told apart by the mark CCurlTransport.c sets as CURLOPT_PRIVATE.
enum { CCURL_INFO_PRIVATE = 0x100000 + 21 };  // CURLINFO_PRIVATE: CURLINFO_STRING + 21
#define CCURL_TRANSPORT_MARK ((void *)0x6167772d6375726cULL)  // "agw-curl": never a valid address

typedef int (*easy_getinfo_function)(void *easy, int info, ...);

static int is_curl_transport_handle(void *easy) {
    static _Atomic(easy_getinfo_function) getinfo = NULL;
    easy_getinfo_function function = atomic_load(&getinfo);
    if (function == NULL) {
        function = (easy_getinfo_function)dlsym(RTLD_DEFAULT, "curl_easy_getinfo");
        if (function == NULL) return 0;
        atomic_store(&getinfo, function);
    }
    void *mark = NULL;
    return function(easy, CCURL_INFO_PRIVATE, &mark) == 0 && mark == CCURL_TRANSPORT_MARK;
}

int curl_multi_add_handle(void *multi, void *easy) {
    static _Atomic(add_handle_function) libcurl_add_handle = NULL;
    add_handle_function next = atomic_load(&libcurl_add_handle);
    if (next == NULL) {
        next = (add_handle_function)dlsym(RTLD_NEXT, "curl_multi_add_handle");
        atomic_store(&libcurl_add_handle, next);
    }
    const char *ca_file = atomic_load(&configured_ca_file);
    if (ca_file != NULL && !is_curl_transport_handle(easy)) {
        // Fails only when out of memory; the transfer then keeps the default
        // bundle and still verifies, so a private-CA server is refused, not trusted.
        (void)atomic_load(&libcurl_easy_setopt)(easy, CCURL_OPT_CAINFO, ca_file);
    }
    return next(multi, easy);
}

int ccurl_set_ca_file(const char *path) {
    // The dynamic linker resolves libcurl's callers to the first definition in
    // the process: unless that is this one, the setting would be ignored.
    if (dlsym(RTLD_DEFAULT, "curl_multi_add_handle") != (void *)curl_multi_add_handle
        || dlsym(RTLD_NEXT, "curl_multi_add_handle") == NULL) {
        return -1;
    }
    easy_setopt_function setopt = (easy_setopt_function)dlsym(RTLD_DEFAULT, "curl_easy_setopt");
    if (setopt == NULL) return -1;
    atomic_store(&libcurl_easy_setopt, setopt);
    atomic_store(&configured_ca_file, strdup(path));  // kept for the life of the process
    return 0;
}
#else
#include "CCurlCAFile.h"

// Elsewhere URLSession does not run on libcurl: there is nothing to hook.
int ccurl_set_ca_file(const char *path) {
    (void)path;
    return -1;
}
#endif
