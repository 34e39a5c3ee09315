#ifndef ENI_AGENT_CCURL_SHIM_H
#define ENI_AGENT_CCURL_SHIM_H

// libcurl, as used by ENIHTTP. Everything else is imported directly; the shims below exist
// only because curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt are variadic, and
// Swift cannot call a C variadic function. One shim per argument type, nothing more.
#include <curl/curl.h>

typedef size_t (*eni_curl_write_fn)(char *data, size_t size, size_t count, void *user);

static inline CURLcode eni_curl_easy_setopt_long(CURL *h, CURLoption option, long value) {
    return curl_easy_setopt(h, option, value);
}

static inline CURLcode eni_curl_easy_setopt_offset(CURL *h, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(h, option, value);
}

static inline CURLcode eni_curl_easy_setopt_string(CURL *h, CURLoption option, const char *value) {
    return curl_easy_setopt(h, option, value);
}

static inline CURLcode eni_curl_easy_setopt_pointer(CURL *h, CURLoption option, void *value) {
    return curl_easy_setopt(h, option, value);
}

static inline CURLcode eni_curl_easy_setopt_write_function(CURL *h, eni_curl_write_fn fn) {
    return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fn);
}

static inline CURLcode eni_curl_easy_getinfo_long(CURL *h, CURLINFO info, long *value) {
    return curl_easy_getinfo(h, info, value);
}

static inline CURLcode eni_curl_easy_getinfo_pointer(CURL *h, CURLINFO info, void **value) {
    return curl_easy_getinfo(h, info, value);
}

static inline CURLMcode eni_curl_multi_setopt_long(CURLM *m, CURLMoption option, long value) {
    return curl_multi_setopt(m, option, value);
}

// CURLOPT_PROTOCOLS (a bit mask; deprecated since 7.85 in favour of CURLOPT_PROTOCOLS_STR, which
// older libcurl, such as RHEL 9's 7.76, does not know). Its number, so that the fallback compiles
// without a deprecation warning against newer headers.
static const CURLoption ENI_CURLOPT_PROTOCOLS_MASK = (CURLoption)(CURLOPTTYPE_LONG + 181);

#endif
