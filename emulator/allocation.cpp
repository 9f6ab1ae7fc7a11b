#include "emulator/allocation.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "common/crypto.h"

namespace edgeprov::emulator {

std::optional<std::string> allocate_hub(AllocationPolicy policy, std::span<const std::string> hubs,
                                        std::string_view registration_id) {
  if (hubs.empty()) return std::nullopt;
  if (policy == AllocationPolicy::static_hub || policy == AllocationPolicy::geo_latency) return hubs.front();
  std::string id(registration_id);
  std::transform(id.begin(), id.end(), id.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto digest = sha256(as_bytes(id));
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | digest[static_cast<std::size_t>(i)];
  return hubs[value % hubs.size()];
}

}  // namespace edgeprov::emulator
