#ifndef CCURLTRANSPORT_H
#define CCURLTRANSPORT_H

#include <stddef.h>

/// libcurl's easy interface, for `CurlTransport`: one POST on one handle, run to
/// its end on the calling thread. libcurl is the library FoundationNetworking
/// already links on Linux; it is looked up at run time (no headers are needed
/// to build), so this compiles everywhere and `ccurl_available()` says whether
/// it can be used.

/// 0 when libcurl (7.85 or newer) was found and initialised, -1 otherwise. Safe to
/// call from any thread, any number of times.
int ccurl_available(void);

/// A handle and the keep-alive connections it holds. Used by one thread at a time.
typedef struct ccurl_handle ccurl_handle;

/// NULL when libcurl is unavailable or out of memory.
ccurl_handle *ccurl_handle_new(void);
void ccurl_handle_free(ccurl_handle *handle);

/// A flag another thread may raise while a call runs (atomic).
typedef struct ccurl_flag ccurl_flag;
ccurl_flag *ccurl_flag_new(void);
void ccurl_flag_raise(ccurl_flag *flag);
void ccurl_flag_free(ccurl_flag *flag);

typedef struct {
    /// libcurl's result code (CURLcode): 0 when an HTTP answer was received.
    int code;
    /// The HTTP status when code is 0.
    long status;
    /// The answer's body (malloc'd; release with ccurl_body_free), when code is 0.
    char *body;
    size_t body_length;
} ccurl_result;

/// POSTs `body` to `url` (http or https only) with `Content-Type:` and `Accept:
/// application/json`, never follows a redirect, and gives up after `timeout_ms`
/// in all. `ca_file`, when not NULL, is the CA bundle servers are verified
/// against (verification of the peer and of its name is always on). An answer
/// longer than `max_body` bytes fails with CURLE_WRITE_ERROR. The call ends with
/// CURLE_ABORTED_BY_CALLBACK soon (within about a second) after `cancelled` is raised.
void ccurl_post(ccurl_handle *handle, const char *url, const void *body, size_t length, long timeout_ms,
                const char *ca_file, size_t max_body, ccurl_flag *cancelled, ccurl_result *result);

void ccurl_body_free(char *body);

#endif
