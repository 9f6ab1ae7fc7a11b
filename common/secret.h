// common/secret.h — a string that must never reach a log: SAS tokens, symmetric keys, passwords.
// Formatting a Secret (fmt/spdlog, operator<<) prints a fixed mask; only reveal() gives the value.
#pragma once
#include <ostream>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace edgeprov {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = default;
  Secret(Secret&&) noexcept = default;
  Secret& operator=(const Secret&) = default;
  Secret& operator=(Secret&&) noexcept = default;
  ~Secret() { wipe(); }

  [[nodiscard]] const std::string& reveal() const { return value_; }
  [[nodiscard]] bool empty() const { return value_.empty(); }
  friend bool operator==(const Secret& a, const Secret& b);  // constant time

  static constexpr const char* mask = "<redacted>";

 private:
  void wipe();
  std::string value_;
};

inline std::ostream& operator<<(std::ostream& os, const Secret&) { return os << Secret::mask; }

}  // namespace edgeprov

template <>
struct fmt::formatter<edgeprov::Secret> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(const edgeprov::Secret&, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(edgeprov::Secret::mask, ctx);
  }
};
