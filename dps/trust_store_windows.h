// dps/trust_store_windows.h — the steps of trust_store_windows.cpp, for its tests: which certificates of
// a CryptoAPI store are taken, and their copy into an OpenSSL store. Windows only; use dps/trust_store.h.
#pragma once
#include <windows.h>
#include <wincrypt.h>

#include <cstddef>

using X509_STORE = struct x509_store_st;

namespace edgeprov::dps::detail {

// Whether Windows allows `certificate` to issue TLS server certificates: a root may be restricted to
// some purposes, by its extended key usage or by the store's properties (an administrator's "enable only
// the following purposes"). No restriction at all means every purpose.
bool trusted_for_server_auth(PCCERT_CONTEXT certificate);

// Adds to `to` every certificate of `from` that is trusted for server authentication and that OpenSSL
// can parse; returns how many.
std::size_t add_server_roots(HCERTSTORE from, X509_STORE* to);

}  // namespace edgeprov::dps::detail
