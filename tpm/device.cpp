#include "tpm/device.h"

#include <fmt/format.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/encoding.h"
#include "tpm/blob.h"
#include "tpm/counting_tcti.h"
#include "tpm/platform.h"
#include "tpm/templates.h"

namespace edgeprov::tpm {
namespace {

// ESAPI allocates its outputs; they are released with Esys_Free.
struct EsysFree {
  void operator()(void* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFree>;

// Flushes a transient object or session when the scope ends, on every path: a failed import must not
// leave anything behind in the TPM's few object and session slots.
class FlushGuard {
 public:
  FlushGuard(ESYS_CONTEXT* esys, ESYS_TR handle) : esys_(esys), handle_(handle) {}
  ~FlushGuard() { flush(); }
  FlushGuard(const FlushGuard&) = delete;
  FlushGuard& operator=(const FlushGuard&) = delete;
  void flush() {
    if (handle_ != ESYS_TR_NONE) Esys_FlushContext(esys_, handle_);  // best effort: the TPM may be gone
    handle_ = ESYS_TR_NONE;
  }
  void release() { handle_ = ESYS_TR_NONE; }  // the TPM already dropped it (e.g. SequenceComplete)

 private:
  ESYS_CONTEXT* esys_;
  ESYS_TR handle_;
};

template <typename T, TSS2_RC (*Unmarshal)(const uint8_t*, size_t, size_t*, T*)>
T unmarshal(const Bytes& bytes) {
  T value{};
  std::size_t offset = 0;
  if (Unmarshal(bytes.data(), bytes.size(), &offset, &value) != TSS2_RC_SUCCESS)
    throw std::logic_error("a parsed blob part no longer unmarshals");
  return value;
}

std::string property_text(std::uint32_t value) {
  std::string text;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const char c = static_cast<char>((value >> shift) & 0xFF);
    if (c != '\0') text.push_back(c);
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::string hex_handle(std::uint32_t handle) { return fmt::format("0x{:08x}", handle); }

// TransientKey ids, unique in the process: a key loaded on one connection never matches one loaded on the
// connection that replaced it.
std::atomic<std::uint64_t> next_transient_id{0};

}  // namespace

std::string registration_id_from_ek(ByteView endorsement_key) {
  const auto digest = sha256(endorsement_key);
  return base32_encode_lower_unpadded(digest);
}

std::string command_name(std::uint32_t cc) {
  switch (cc) {
    case TPM2_CC_Startup: return "Startup";
    case TPM2_CC_GetCapability: return "GetCapability";
    case TPM2_CC_ReadPublic: return "ReadPublic";
    case TPM2_CC_CreatePrimary: return "CreatePrimary";
    case TPM2_CC_EvictControl: return "EvictControl";
    case TPM2_CC_FlushContext: return "FlushContext";
    case TPM2_CC_StartAuthSession: return "StartAuthSession";
    case TPM2_CC_PolicySecret: return "PolicySecret";
    case TPM2_CC_ActivateCredential: return "ActivateCredential";
    case TPM2_CC_Import: return "Import";
    case TPM2_CC_Load: return "Load";
    case TPM2_CC_HMAC: return "HMAC";
    case TPM2_CC_HMAC_Start: return "HMAC_Start";
    case TPM2_CC_SequenceUpdate: return "SequenceUpdate";
    case TPM2_CC_SequenceComplete: return "SequenceComplete";
    case TPM2_CC_GetRandom: return "GetRandom";
    case TPM2_CC_ContextSave: return "ContextSave";
    case TPM2_CC_ContextLoad: return "ContextLoad";
    default: return fmt::format("0x{:x}", cc);
  }
}

struct Device::State {
  const Options& options;
  TSS2_TCTI_CONTEXT* loaded_tcti = nullptr;
  std::unique_ptr<CountingTcti> tcti;
  ESYS_CONTEXT* esys = nullptr;
  ESYS_TR ek = ESYS_TR_NONE, srk = ESYS_TR_NONE;
  // The authentication key's ESYS_TR once looked up; auth_key_known says the lookup happened.
  ESYS_TR auth_key = ESYS_TR_NONE;
  bool auth_key_known = false;
  // The one DPS key loaded as a transient object (Device::load_key), ESYS_TR_NONE when there is none.
  ESYS_TR transient = ESYS_TR_NONE;
  std::uint64_t transient_id = 0;

  explicit State(const Options& o) : options(o) {}
  ~State() {
    // Without a resource manager (swtpm, /dev/tpm0) a transient object outlives the connection: it would
    // take one of the TPM's few object slots until the TPM restarts.
    if (esys != nullptr) flush_transient();
    if (esys != nullptr) Esys_Finalize(&esys);
    if (loaded_tcti != nullptr) Tss2_TctiLdr_Finalize(&loaded_tcti);
  }

  CallSite site(std::string_view command, Hierarchy hierarchy = Hierarchy::none, bool blob = false) const {
    return CallSite{.command = command,
                    .hierarchy = hierarchy,
                    .tcti = options.tcti,
                    .config_file = options.config_file,
                    .auth_key_blob = blob};
  }

  // Runs one ESAPI call. ESAPI already resubmits TPM_RC_RETRY/YIELDED/TESTING a few times without a
  // pause; a TPM still busy after that gets a bounded number of further tries with a growing pause.
  static void pause(int attempt) { std::this_thread::sleep_for(std::chrono::milliseconds(10 << attempt)); }
  template <typename F>
  void call(const CallSite& where, F&& f) {
    if (const TSS2_RC rc = with_retries(f, pause); rc != TSS2_RC_SUCCESS) throw make_error(where, rc);
  }

  // The ESYS_TR of a persistent handle, or nullopt when nothing is persisted there.
  std::optional<ESYS_TR> open_persistent(std::uint32_t handle) {
    ESYS_TR tr = ESYS_TR_NONE;
    const TSS2_RC rc = with_retries(
        [&] { return Esys_TR_FromTPMPublic(esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr); }, pause);
    if (rc == TSS2_RC_SUCCESS) return tr;
    if (is_missing_handle(rc)) return std::nullopt;
    throw make_error(site("ReadPublic"), rc);
  }

  EsysPtr<TPM2B_PUBLIC> read_public(ESYS_TR tr) {
    TPM2B_PUBLIC* out = nullptr;
    call(site("ReadPublic"), [&] {
      return Esys_ReadPublic(esys, tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &out, nullptr, nullptr);
    });
    return EsysPtr<TPM2B_PUBLIC>(out);
  }

  // EK or SRK: the persisted key if there is one (whatever made it), else created and persisted.
  ESYS_TR ensure_primary(std::uint32_t handle, bool endorsement) {
    const char* what = endorsement ? "endorsement key" : "storage root key";
    if (auto tr = open_persistent(handle)) {
      auto pub = read_public(*tr);
      const auto& area = pub->publicArea;
      const TPMA_OBJECT need = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
      if ((area.type != TPM2_ALG_RSA && area.type != TPM2_ALG_ECC) || (area.objectAttributes & need) != need ||
          (area.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) != 0) {
        throw Error(ErrorKind::handle_occupied, "use the " + std::string(what), 0,
                    fmt::format("handle {} holds an object that is not a restricted decryption key "
                                "(type 0x{:04x}, attributes 0x{:08x}), so it cannot be the {}",
                                hex_handle(handle), area.type, area.objectAttributes, what),
                    fmt::format("if another program put it there by mistake, remove it with `tpm2_evictcontrol "
                                "-C o -c {}`; edgeprov then creates the standard {} there",
                                hex_handle(handle), what));
      }
      return *tr;
    }
    const Hierarchy hierarchy = endorsement ? Hierarchy::endorsement : Hierarchy::owner;
    const TPM2B_PUBLIC in_public = endorsement ? endorsement_key_template() : storage_root_key_template();
    const TPM2B_SENSITIVE_CREATE in_sensitive{};
    const TPM2B_DATA outside_info{};
    const TPML_PCR_SELECTION creation_pcr{};
    ESYS_TR transient = ESYS_TR_NONE;
    call(site("CreatePrimary", hierarchy), [&] {
      return Esys_CreatePrimary(esys, endorsement ? ESYS_TR_RH_ENDORSEMENT : ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
                                ESYS_TR_NONE, ESYS_TR_NONE, &in_sensitive, &in_public, &outside_info,
                                &creation_pcr, &transient, nullptr, nullptr, nullptr, nullptr);
    });
    FlushGuard guard(esys, transient);
    ESYS_TR persistent = ESYS_TR_NONE;
    call(site("EvictControl", Hierarchy::owner), [&] {
      return Esys_EvictControl(esys, ESYS_TR_RH_OWNER, transient, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               handle, &persistent);
    });
    return persistent;
  }

  ESYS_TR endorsement_key() {
    if (ek == ESYS_TR_NONE) ek = ensure_primary(endorsement_key_handle, true);
    return ek;
  }
  ESYS_TR storage_root_key() {
    if (srk == ESYS_TR_NONE) srk = ensure_primary(storage_root_key_handle, false);
    return srk;
  }

  // The persisted authentication key, if any; refuses a slot that holds something else.
  std::optional<ESYS_TR> open_auth_key() {
    if (auth_key_known) return auth_key == ESYS_TR_NONE ? std::nullopt : std::optional(auth_key);
    const std::uint32_t handle = auth_key_handle(options);
    auto tr = open_persistent(handle);
    if (tr) {
      auto pub = read_public(*tr);
      const auto& area = pub->publicArea;
      if (area.type != TPM2_ALG_KEYEDHASH || (area.objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) == 0 ||
          (area.objectAttributes & TPMA_OBJECT_RESTRICTED) != 0) {
        Esys_TR_Close(esys, &*tr);
        throw Error(ErrorKind::handle_occupied, "use the authentication key", 0,
                    fmt::format("handle {} holds an object that is not an HMAC key (type 0x{:04x}, attributes "
                                "0x{:08x}); edgeprov does not overwrite objects it did not put there",
                                hex_handle(handle), area.type, area.objectAttributes),
                    fmt::format("choose a free slot with [tpm] auth_key_index in {} (handle = 0x81000000 + "
                                "index), or remove the object with `tpm2_evictcontrol -C o -c {}`",
                                options.config_file, hex_handle(handle)));
      }
    }
    auth_key = tr.value_or(ESYS_TR_NONE);
    auth_key_known = true;
    return tr;
  }

  // ActivateCredential, Import and Load of a DPS key blob under the SRK (docs/dps-protocol.md §5.6): the
  // loaded transient object, owned by the caller. Everything else it used is flushed on every path.
  ESYS_TR load_blob(ByteView blob) {
    const AuthKeyBlob parts = parse_auth_key_blob(blob);
    const auto credential = unmarshal<TPM2B_ID_OBJECT, Tss2_MU_TPM2B_ID_OBJECT_Unmarshal>(parts.credential);
    const auto secret = unmarshal<TPM2B_ENCRYPTED_SECRET, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal>(parts.secret);
    const auto duplicate = unmarshal<TPM2B_PRIVATE, Tss2_MU_TPM2B_PRIVATE_Unmarshal>(parts.duplicate);
    const auto seed = unmarshal<TPM2B_ENCRYPTED_SECRET, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal>(parts.seed);
    const auto object_public = unmarshal<TPM2B_PUBLIC, Tss2_MU_TPM2B_PUBLIC_Unmarshal>(parts.public_area);

    const ESYS_TR ek = endorsement_key();
    const ESYS_TR srk = storage_root_key();

    // The EK is usable only through its policy, PolicySecret(TPM_RH_ENDORSEMENT).
    TPM2B_DIGEST inner_key{};  // the credential: Import's inner-wrapper key
    {
      const TPMT_SYM_DEF no_symmetric{.algorithm = TPM2_ALG_NULL, .keyBits = {}, .mode = {}};
      ESYS_TR session = ESYS_TR_NONE;
      call(site("StartAuthSession"), [&] {
        return Esys_StartAuthSession(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     nullptr, TPM2_SE_POLICY, &no_symmetric, TPM2_ALG_SHA256, &session);
      });
      FlushGuard session_guard(esys, session);
      call(site("PolicySecret", Hierarchy::endorsement), [&] {
        TPM2B_TIMEOUT* timeout = nullptr;
        TPMT_TK_AUTH* ticket = nullptr;
        const TSS2_RC rc = Esys_PolicySecret(esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                             ESYS_TR_NONE, nullptr, nullptr, nullptr, 0, &timeout, &ticket);
        Esys_Free(timeout);
        Esys_Free(ticket);
        return rc;
      });
      TPM2B_DIGEST* cert_info = nullptr;
      call(site("ActivateCredential", Hierarchy::none, true), [&] {
        return Esys_ActivateCredential(esys, srk, ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &credential,
                                       &secret, &cert_info);
      });
      inner_key = *cert_info;
      std::memset(cert_info, 0, sizeof(*cert_info));
      Esys_Free(cert_info);
    }

    TPM2B_DATA encryption_key{};
    encryption_key.size = std::min<UINT16>(inner_key.size, sizeof(encryption_key.buffer));
    std::memcpy(encryption_key.buffer, inner_key.buffer, encryption_key.size);
    std::memset(&inner_key, 0, sizeof(inner_key));
    const TPMT_SYM_DEF_OBJECT aes_128_cfb{
        .algorithm = TPM2_ALG_AES, .keyBits = {.aes = 128}, .mode = {.aes = TPM2_ALG_CFB}};
    TPM2B_PRIVATE* out_private = nullptr;
    const auto import_rc = [&] {
      return Esys_Import(esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &encryption_key, &object_public,
                         &duplicate, &seed, &aes_128_cfb, &out_private);
    };
    try {
      call(site("Import", Hierarchy::none, true), import_rc);
    } catch (...) {
      std::memset(&encryption_key, 0, sizeof(encryption_key));
      throw;
    }
    std::memset(&encryption_key, 0, sizeof(encryption_key));
    EsysPtr<TPM2B_PRIVATE> owned_private(out_private);

    ESYS_TR loaded = ESYS_TR_NONE;
    call(site("Load", Hierarchy::none, true), [&] {
      return Esys_Load(esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, out_private, &object_public,
                       &loaded);
    });
    return loaded;
  }

  // Replaces whatever is persisted at the auth handle by a copy of `loaded` (which stays loaded).
  ImportedKey persist(ESYS_TR loaded) {
    const std::optional<ESYS_TR> old_key = open_auth_key();
    const std::uint32_t handle = auth_key_handle(options);
    // Only now, with the new key loaded, does the old one go: a failure before this point left it working.
    if (old_key) {
      ESYS_TR none = ESYS_TR_NONE;
      ESYS_TR old = *old_key;
      call(site("EvictControl", Hierarchy::owner), [&] {
        return Esys_EvictControl(esys, ESYS_TR_RH_OWNER, old, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, handle,
                                 &none);
      });
      auth_key = ESYS_TR_NONE;  // ESAPI released the old key's ESYS_TR
      auth_key_known = true;
    }
    ESYS_TR persistent = ESYS_TR_NONE;
    call(site("EvictControl", Hierarchy::owner), [&] {
      return Esys_EvictControl(esys, ESYS_TR_RH_OWNER, loaded, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, handle,
                               &persistent);
    });
    auth_key = persistent;
    auth_key_known = true;
    return ImportedKey{.handle = handle, .replaced = old_key.has_value()};
  }

  static Error transient_key_lost(std::string_view action, std::uint32_t rc = 0) {
    return Error(ErrorKind::transient_key_lost, std::string(action), rc,
                 "the DPS key loaded for this registration attempt is no longer in the TPM: the connection to the "
                 "TPM was reset or the TPM restarted since it was loaded, or a newer key replaced it",
                 "nothing to do: the next registration attempt gets a new key from DPS");
  }

  // Runs `use` with the ESYS_TR of `key`, which this connection loaded. A key this connection no longer
  // holds, or one the TPM lost under it (a TPM reset that the TCTI rode out answers TPM_RC_REFERENCE_Hn),
  // is transient_key_lost; the TPM's own verdict is the only sure one, so it is asked, not guessed.
  template <typename F>
  auto using_transient(TransientKey key, std::string_view action, F&& use) {
    if (transient == ESYS_TR_NONE || transient_id != key.id) throw transient_key_lost(action);
    try {
      return use(transient);
    } catch (const Error& e) {
      if (!is_unloaded_reference(e.rc()) && !is_missing_handle(e.rc())) throw;
      Esys_TR_Close(esys, &transient);  // gone from the TPM: only ESAPI's record of it is left
      transient = ESYS_TR_NONE;
      transient_id = 0;
      throw transient_key_lost(action, e.rc());
    }
  }

  void flush_transient() {
    if (transient != ESYS_TR_NONE) Esys_FlushContext(esys, transient);  // best effort: the TPM may be gone
    transient = ESYS_TR_NONE;
    transient_id = 0;
  }

  // HMAC-SHA-256 of `data` with the loaded or persisted `key` (docs/dps-protocol.md §5.7).
  Sha256Digest hmac(ESYS_TR key, ByteView data, std::string_view action, const std::string& key_name) {
    constexpr std::size_t chunk = TPM2_MAX_DIGEST_BUFFER;  // 1024
    const auto buffer_of = [](ByteView part) {
      TPM2B_MAX_BUFFER b{};
      b.size = static_cast<UINT16>(part.size());
      std::copy(part.begin(), part.end(), b.buffer);
      return b;
    };
    TPM2B_DIGEST* result = nullptr;
    if (data.size() <= chunk) {
      const TPM2B_MAX_BUFFER buffer = buffer_of(data);
      call(site("HMAC"), [&] {
        return Esys_HMAC(esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buffer, TPM2_ALG_SHA256, &result);
      });
    } else {
      const TPM2B_AUTH no_auth{};
      ESYS_TR sequence = ESYS_TR_NONE;
      call(site("HMAC_Start"), [&] {
        return Esys_HMAC_Start(esys, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &no_auth, TPM2_ALG_SHA256,
                               &sequence);
      });
      FlushGuard sequence_guard(esys, sequence);
      std::size_t offset = 0;
      while (data.size() - offset > chunk) {
        const TPM2B_MAX_BUFFER buffer = buffer_of(data.subspan(offset, chunk));
        call(site("SequenceUpdate"), [&] {
          return Esys_SequenceUpdate(esys, sequence, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &buffer);
        });
        offset += chunk;
      }
      const TPM2B_MAX_BUFFER last = buffer_of(data.subspan(offset));
      call(site("SequenceComplete"), [&] {
        TPMT_TK_HASHCHECK* validation = nullptr;
        const TSS2_RC rc = Esys_SequenceComplete(esys, sequence, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &last,
                                                 ESYS_TR_RH_NULL, &result, &validation);
        Esys_Free(validation);
        return rc;
      });
      sequence_guard.release();  // SequenceComplete ends the sequence object
    }
    EsysPtr<TPM2B_DIGEST> owned(result);
    Sha256Digest digest{};
    if (result->size != digest.size())
      throw Error(ErrorKind::tpm, std::string(action), 0,
                  fmt::format("{} gave a {}-byte HMAC, not HMAC-SHA-256", key_name, result->size),
                  "provision again so DPS issues a new HMAC-SHA-256 key");
    std::copy(result->buffer, result->buffer + digest.size(), digest.begin());
    return digest;
  }

  void set_hierarchy_auth(ESYS_TR hierarchy, const std::optional<Secret>& secret, std::string_view key) {
    if (!secret || secret->empty()) return;
    TPM2B_AUTH auth{};
    const std::string& value = secret->reveal();
    if (value.size() > sizeof(auth.buffer)) {
      throw Error(ErrorKind::hierarchy_auth, "set the hierarchy password", 0,
                  fmt::format("[tpm.hierarchy_authorization] {} is longer than {} bytes", key, sizeof(auth.buffer)),
                  fmt::format("set the password the TPM really has in {}", options.config_file));
    }
    auth.size = static_cast<UINT16>(value.size());
    std::memcpy(auth.buffer, value.data(), value.size());
    const TSS2_RC rc = Esys_TR_SetAuth(esys, hierarchy, &auth);
    std::memset(&auth, 0, sizeof(auth));
    if (rc != TSS2_RC_SUCCESS) throw make_error(site("set the hierarchy password"), rc);
  }

  std::vector<TPMS_TAGGED_PROPERTY> properties(TPM2_PT first, TPM2_PT last) {
    std::vector<TPMS_TAGGED_PROPERTY> out;
    TPM2_PT next = first;
    TPMI_YES_NO more = TPM2_YES;
    while (more == TPM2_YES && next <= last) {
      TPMS_CAPABILITY_DATA* data = nullptr;
      call(site("GetCapability"), [&] {
        return Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, next,
                                  TPM2_MAX_TPM_PROPERTIES, &more, &data);
      });
      EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
      const auto& props = data->data.tpmProperties;
      if (props.count == 0) break;
      for (UINT32 i = 0; i < props.count; ++i)
        if (props.tpmProperty[i].property <= last) out.push_back(props.tpmProperty[i]);
      next = props.tpmProperty[props.count - 1].property + 1;
    }
    return out;
  }

  std::vector<TPM2_HANDLE> handles(TPM2_HANDLE first) {
    std::vector<TPM2_HANDLE> out;
    const TPM2_HANDLE type = first & TPM2_HR_RANGE_MASK;
    TPM2_HANDLE next = first;
    TPMI_YES_NO more = TPM2_YES;
    while (more == TPM2_YES) {
      TPMS_CAPABILITY_DATA* data = nullptr;
      call(site("GetCapability"), [&] {
        return Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, next,
                                  TPM2_MAX_CAP_HANDLES, &more, &data);
      });
      EsysPtr<TPMS_CAPABILITY_DATA> owned(data);
      const auto& list = data->data.handles;
      if (list.count == 0) break;
      for (UINT32 i = 0; i < list.count; ++i)
        if ((list.handle[i] & TPM2_HR_RANGE_MASK) == type) out.push_back(list.handle[i]);
      next = list.handle[list.count - 1] + 1;
    }
    return out;
  }
};

Device::Device(Options options) : options_(std::move(options)) {
  if (options_.tcti.empty()) options_.tcti = default_tcti();
  if (options_.config_file.empty()) options_.config_file = default_config_file();
  if (options_.auth_key_index > max_auth_key_index) {
    throw Error(ErrorKind::tpm, "choose the authentication key handle", 0,
                fmt::format("[tpm] auth_key_index 0x{:x} is above 0x{:x}", options_.auth_key_index,
                            max_auth_key_index),
                fmt::format("set [tpm] auth_key_index to a value in 0x0..0x7FFFFF in {}", options_.config_file));
  }
  quiet_tss_logging();
  state_ = std::make_unique<State>(options_);
  auto& s = *state_;

  const std::string connect = fmt::format("connect to the TPM through TCTI \"{}\"", options_.tcti);
  if (const TSS2_RC rc = Tss2_TctiLdr_Initialize(options_.tcti.c_str(), &s.loaded_tcti); rc != TSS2_RC_SUCCESS) {
    if (auto diagnosed = diagnose_tcti_failure(options_.tcti, rc)) throw *diagnosed;
    auto e = make_error(s.site(connect), rc);
    throw Error(ErrorKind::connection, connect, rc, decode(rc), e.fix());
  }
  s.tcti = std::make_unique<CountingTcti>(s.loaded_tcti);
  if (const TSS2_RC rc = Esys_Initialize(&s.esys, s.tcti->context(), nullptr); rc != TSS2_RC_SUCCESS) {
    auto e = make_error(s.site(connect), rc);
    throw Error(ErrorKind::connection, connect, rc, decode(rc), e.fix());
  }

  // A simulator, or a TPM whose firmware did not start it, answers TPM_RC_INITIALIZE until Startup.
  TPMS_CAPABILITY_DATA* data = nullptr;
  TPMI_YES_NO more = TPM2_NO;
  TSS2_RC rc = Esys_GetCapability(s.esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                  TPM2_PT_MANUFACTURER, 1, &more, &data);
  Esys_Free(data);
  if (tpm_base_code(rc) == TPM2_RC_INITIALIZE) {
    s.call(s.site("Startup"), [&] { return Esys_Startup(s.esys, TPM2_SU_CLEAR); });
  } else if (rc != TSS2_RC_SUCCESS) {
    if (is_connection_failure(rc)) {
      auto e = make_error(s.site(connect), rc);
      throw Error(ErrorKind::connection, connect, rc, decode(rc), e.fix());
    }
    throw make_error(s.site("GetCapability"), rc);
  }
  s.set_hierarchy_auth(ESYS_TR_RH_ENDORSEMENT, options_.endorsement_auth, "endorsement");
  s.set_hierarchy_auth(ESYS_TR_RH_OWNER, options_.owner_auth, "owner");
}

Device::~Device() = default;

PublicKeys Device::keys() {
  auto& s = *state_;
  PublicKeys out;
  out.endorsement_key = marshal_public(*s.read_public(s.endorsement_key()));
  out.storage_root_key = marshal_public(*s.read_public(s.storage_root_key()));
  out.registration_id = registration_id_from_ek(out.endorsement_key);
  return out;
}

TransientKey Device::load_key(ByteView blob) {
  auto& s = *state_;
  // The slot the key is to be persisted to must be one edgeprov may use: refused before any work.
  s.open_auth_key();
  // One at a time: the key of an earlier attempt is of no use any more, and its object slot is needed
  // (ActivateCredential and Load need the EK and SRK loaded besides).
  s.flush_transient();
  const ESYS_TR loaded = s.load_blob(blob);
  s.transient = loaded;
  s.transient_id = ++next_transient_id;
  return TransientKey{s.transient_id};
}

ImportedKey Device::persist_key(TransientKey key) {
  auto& s = *state_;
  // Flushed on every path: once persisted it is a copy, and after a failure the attempt is over.
  struct Flush {
    State& s;
    ~Flush() { s.flush_transient(); }
  } flush{s};
  return s.using_transient(key, "persist the DPS key", [&](ESYS_TR loaded) {
    // Still loaded? Asked before the old key is evicted, so a key lost meanwhile leaves the old one working.
    s.read_public(loaded);
    return s.persist(loaded);
  });
}

void Device::flush_key(TransientKey key) {
  auto& s = *state_;
  if (s.transient_id == key.id) s.flush_transient();
}

ImportedKey Device::import_auth_key(ByteView blob) { return persist_key(load_key(blob)); }

Sha256Digest Device::sign(const SigningKey& which, ByteView data) {
  auto& s = *state_;
  if (const auto* transient = std::get_if<TransientKey>(&which)) {
    const char* action = "sign with the DPS key of this attempt";
    return s.using_transient(*transient, action, [&](ESYS_TR key) { return s.hmac(key, data, action, "the DPS key"); });
  }
  const char* action = "sign with the authentication key";
  const auto key = s.open_auth_key();
  if (!key) {
    throw Error(ErrorKind::no_auth_key, action, 0,
                fmt::format("no authentication key is persisted at {}", hex_handle(auth_key_handle(options_))),
                "provision the device with DPS TPM attestation first; it imports the key");
  }
  return s.hmac(*key, data, action, "the key at " + hex_handle(auth_key_handle(options_)));
}

bool Device::auth_key_present() { return state_->open_auth_key().has_value(); }

Info Device::info() {
  auto& s = *state_;
  Info info;
  std::string vendor;
  std::uint32_t fw1 = 0, fw2 = 0;
  for (const auto& p : s.properties(TPM2_PT_FIXED, TPM2_PT_FIXED + 0x3F)) {
    switch (p.property) {
      case TPM2_PT_FAMILY_INDICATOR: info.spec_family = property_text(p.value); break;
      case TPM2_PT_LEVEL: info.spec_level = p.value; break;
      case TPM2_PT_REVISION: info.spec_revision = p.value; break;
      case TPM2_PT_MANUFACTURER: info.manufacturer = property_text(p.value); break;
      case TPM2_PT_VENDOR_STRING_1:
      case TPM2_PT_VENDOR_STRING_2:
      case TPM2_PT_VENDOR_STRING_3:
      case TPM2_PT_VENDOR_STRING_4: vendor += property_text(p.value); break;
      case TPM2_PT_FIRMWARE_VERSION_1: fw1 = p.value; break;
      case TPM2_PT_FIRMWARE_VERSION_2: fw2 = p.value; break;
      default: break;
    }
  }
  info.vendor = vendor;
  info.firmware_version = fmt::format("{}.{}.{}.{}", fw1 >> 16, fw1 & 0xFFFF, fw2 >> 16, fw2 & 0xFFFF);
  for (const auto& p : s.properties(TPM2_PT_VAR, TPM2_PT_VAR + 0x3F)) {
    switch (p.property) {
      case TPM2_PT_PERMANENT:
        info.owner_auth_set = (p.value & TPMA_PERMANENT_OWNERAUTHSET) != 0;
        info.endorsement_auth_set = (p.value & TPMA_PERMANENT_ENDORSEMENTAUTHSET) != 0;
        info.lockout_auth_set = (p.value & TPMA_PERMANENT_LOCKOUTAUTHSET) != 0;
        info.in_lockout = (p.value & TPMA_PERMANENT_INLOCKOUT) != 0;
        break;
      case TPM2_PT_LOCKOUT_COUNTER: info.lockout_counter = p.value; break;
      case TPM2_PT_MAX_AUTH_FAIL: info.max_auth_fail = p.value; break;
      case TPM2_PT_LOCKOUT_INTERVAL: info.lockout_interval = p.value; break;
      case TPM2_PT_LOCKOUT_RECOVERY: info.lockout_recovery = p.value; break;
      default: break;
    }
  }
  info.persistent_handles = s.handles(TPM2_PERSISTENT_FIRST);
  const auto has = [&](std::uint32_t h) {
    return std::find(info.persistent_handles.begin(), info.persistent_handles.end(), h) !=
           info.persistent_handles.end();
  };
  info.auth_key_handle = auth_key_handle(options_);
  info.endorsement_key_present = has(endorsement_key_handle);
  info.storage_root_key_present = has(storage_root_key_handle);
  info.auth_key_present = has(info.auth_key_handle);
  info.transient_objects = static_cast<std::uint32_t>(s.handles(TPM2_TRANSIENT_FIRST).size());
  info.loaded_sessions = static_cast<std::uint32_t>(s.handles(TPM2_LOADED_SESSION_FIRST).size() +
                                                    s.handles(TPM2_ACTIVE_SESSION_FIRST).size());
  return info;
}

std::uint64_t Device::commands_sent() const { return state_->tcti->commands; }
std::vector<Device::CommandRecord> Device::command_log() const {
  std::vector<CommandRecord> out;
  for (const auto& r : state_->tcti->log) out.push_back({r.code, r.elapsed});
  return out;
}
void Device::clear_command_log() { state_->tcti->log.clear(); }

}  // namespace edgeprov::tpm
