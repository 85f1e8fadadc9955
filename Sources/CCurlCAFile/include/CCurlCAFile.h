#ifndef CCURLCAFILE_H
#define CCURLCAFILE_H

/// Makes every later libcurl transfer in this process verify servers against
/// the CA bundle at `path` (CURLOPT_CAINFO). Process-wide, because the only
/// place to set it is libcurl itself: FoundationNetworking's URLSession has no
/// option for it on Linux. The path is copied.
///
/// Returns 0 when set, -1 when the hook is not in effect in this binary (the
/// executable does not export `curl_multi_add_handle`, see CCurlCAFile.c), in
/// which case setting it would silently change nothing.
int ccurl_set_ca_file(const char *path);

#endif
