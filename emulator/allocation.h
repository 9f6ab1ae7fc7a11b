// emulator/allocation.h — which IoT hub a registration goes to. Deterministic (no randomness, no state), so a
// device re-registering with an unchanged enrollment gets the same hub and tests can predict the hub.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "emulator/enrollment.h"

namespace edgeprov::emulator {

// hashed and custom: hubs[SHA-256(lowercase registration id) mod n] (custom adds the payload echo elsewhere);
// static and geoLatency: the first hub (on loopback every hub is equally near). std::nullopt without hubs.
std::optional<std::string> allocate_hub(AllocationPolicy policy, std::span<const std::string> hubs,
                                        std::string_view registration_id);

}  // namespace edgeprov::emulator
