// See include/CCurlTransport.h. Option numbers are libcurl's stable ABI values
// (curl/curl.h: CURLOPTTYPE_* base + number), checked against libcurl 7.88
// with curl_easy_option_by_name().
#define _GNU_SOURCE
#include "CCurlTransport.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_WRITEDATA = 10001, OPT_URL = 10002, OPT_POSTFIELDS = 10015, OPT_HTTPHEADER = 10023, OPT_XFERINFODATA = 10057,
    OPT_CAINFO = 10065, OPT_PROTOCOLS_STR = 10318, OPT_WRITEFUNCTION = 20011, OPT_XFERINFOFUNCTION = 20219,
    OPT_POSTFIELDSIZE_LARGE = 30120, OPT_NOPROGRESS = 43, OPT_POST = 47, OPT_FOLLOWLOCATION = 52, OPT_NOSIGNAL = 99,
    OPT_TIMEOUT_MS = 155, OPT_PRIVATE = 10103,
    INFO_RESPONSE_CODE = 0x200000 + 2,
    CURL_GLOBAL_ALL = 3,
    E_FAILED_INIT = 2,
};

typedef void CURL;
struct slist;
static void *(*easy_init)(void);
static int (*easy_setopt)(CURL *, int, ...);
static int (*easy_perform)(CURL *);
static int (*easy_getinfo)(CURL *, int, ...);
static void (*easy_cleanup)(CURL *);
static struct slist *(*slist_append)(struct slist *, const char *);
static int (*global_init)(long);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded = -1;
static struct slist *headers;

static void *find(void *library, const char *name) {
    void *symbol = dlsym(RTLD_DEFAULT, name);
    return symbol != NULL ? symbol : (library != NULL ? dlsym(library, name) : NULL);
}

static void load(void) {
    void *library = dlsym(RTLD_DEFAULT, "curl_easy_init") != NULL ? NULL : dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    easy_init = find(library, "curl_easy_init");
    easy_setopt = find(library, "curl_easy_setopt");
    easy_perform = find(library, "curl_easy_perform");
    easy_getinfo = find(library, "curl_easy_getinfo");
    easy_cleanup = find(library, "curl_easy_cleanup");
    slist_append = find(library, "curl_slist_append");
    global_init = find(library, "curl_global_init");
    if (!easy_init || !easy_setopt || !easy_perform || !easy_getinfo || !easy_cleanup || !slist_append
        || !global_init) return;
    if (global_init(CURL_GLOBAL_ALL) != 0) return;
    // CURLOPT_PROTOCOLS_STR came with 7.85.
    CURL *probe = easy_init();
    if (probe == NULL) return;
    int probed = easy_setopt(probe, OPT_PROTOCOLS_STR, "http,https");
    easy_cleanup(probe);
    if (probed != 0) return;
    struct slist *list = slist_append(NULL, "Content-Type: application/json");
    if (list) list = slist_append(list, "Accept: application/json");
    if (list) list = slist_append(list, "Expect:");  // no 100-continue round trip for larger bodies
    if (!list) return;
    headers = list;
    loaded = 0;
}

int ccurl_available(void) {
    pthread_once(&once, load);
    return loaded;
}

// Marks this file's handles (CURLOPT_PRIVATE), so that the CA hook of
// CCurlCAFile.c, which sees every handle libcurl adds to a multi handle, leaves
// their CA file alone. The same value is defined there.
#define CCURL_TRANSPORT_MARK ((void *)0x6167772d6375726cULL)  // "agw-curl": never a valid address

struct ccurl_handle { CURL *curl; };

ccurl_handle *ccurl_handle_new(void) {
    if (ccurl_available() != 0) return NULL;
    ccurl_handle *handle = calloc(1, sizeof *handle);
    if (handle == NULL) return NULL;
    handle->curl = easy_init();
    if (handle->curl == NULL) { free(handle); return NULL; }
    if (easy_setopt(handle->curl, OPT_PRIVATE, CCURL_TRANSPORT_MARK) != 0) {
        easy_cleanup(handle->curl);
        free(handle);
        return NULL;
    }
    return handle;
}

void ccurl_handle_free(ccurl_handle *handle) {
    if (handle == NULL) return;
    easy_cleanup(handle->curl);
    free(handle);
}

typedef struct { char *data; size_t length, capacity, limit; } buffer;

static size_t write_body(char *data, size_t size, size_t count, void *context) {
    buffer *b = context;
    size_t n = size * count;
    if (n > b->limit - b->length) return 0;  // over the limit: CURLE_WRITE_ERROR
    if (b->length + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 1024;
        while (capacity < b->length + n) capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (grown == NULL) return 0;
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->length, data, n);
    b->length += n;
    return n;
}

struct ccurl_flag { atomic_int raised; };

ccurl_flag *ccurl_flag_new(void) { return calloc(1, sizeof(ccurl_flag)); }
void ccurl_flag_raise(ccurl_flag *flag) { atomic_store(&flag->raised, 1); }
void ccurl_flag_free(ccurl_flag *flag) { free(flag); }

static int progress(void *context, long long dltotal, long long dlnow, long long ultotal, long long ulnow) {
    (void)dltotal; (void)dlnow; (void)ultotal; (void)ulnow;
    return context != NULL && atomic_load(&((ccurl_flag *)context)->raised) != 0;  // non-zero aborts the transfer
}

void ccurl_post(ccurl_handle *handle, const char *url, const void *body, size_t length, long timeout_ms,
                const char *ca_file, size_t max_body, ccurl_flag *cancelled, ccurl_result *result) {
    memset(result, 0, sizeof *result);
    if (handle == NULL) { result->code = E_FAILED_INIT; return; }
    CURL *curl = handle->curl;
    buffer answer = { NULL, 0, 0, max_body };
    int code = 0;
    // Every option is set on every call: the handle keeps only its connections.
    if (!code) code = easy_setopt(curl, OPT_URL, url);
    if (!code) code = easy_setopt(curl, OPT_PROTOCOLS_STR, "http,https");
    if (!code) code = easy_setopt(curl, OPT_POST, 1L);
    if (!code) code = easy_setopt(curl, OPT_POSTFIELDS, body);
    if (!code) code = easy_setopt(curl, OPT_POSTFIELDSIZE_LARGE, (long long)length);
    if (!code) code = easy_setopt(curl, OPT_HTTPHEADER, headers);
    if (!code) code = easy_setopt(curl, OPT_FOLLOWLOCATION, 0L);
    if (!code) code = easy_setopt(curl, OPT_NOSIGNAL, 1L);
    if (!code) code = easy_setopt(curl, OPT_TIMEOUT_MS, timeout_ms);
    if (!code && ca_file != NULL) code = easy_setopt(curl, OPT_CAINFO, ca_file);  // else libcurl's default bundle
    if (!code) code = easy_setopt(curl, OPT_WRITEFUNCTION, write_body);
    if (!code) code = easy_setopt(curl, OPT_WRITEDATA, &answer);
    if (!code) code = easy_setopt(curl, OPT_NOPROGRESS, 0L);
    if (!code) code = easy_setopt(curl, OPT_XFERINFOFUNCTION, progress);
    if (!code) code = easy_setopt(curl, OPT_XFERINFODATA, cancelled);
    if (!code) code = easy_perform(curl);
    if (!code) code = easy_getinfo(curl, INFO_RESPONSE_CODE, &result->status);
    result->code = code;
    if (code == 0) {
        result->body = answer.data;
        result->body_length = answer.length;
    } else {
        free(answer.data);
    }
}

void ccurl_body_free(char *body) { free(body); }
