#include "common/time.h"

#include <fmt/format.h>

#include <charconv>

namespace edgeprov {

using namespace std::chrono;

std::string to_rfc3339(SystemTime t, bool with_millis) {
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                                hms.hours().count(), hms.minutes().count(), hms.seconds().count());
  if (with_millis) out += fmt::format(".{:03}", hms.subseconds().count());
  out += 'Z';
  return out;
}

namespace {
bool read_int(std::string_view text, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > text.size()) return false;
  for (std::size_t i = pos; i < pos + len; ++i)
    if (text[i] < '0' || text[i] > '9') return false;
  std::from_chars(text.data() + pos, text.data() + pos + len, out);
  return true;
}
}  // namespace

std::optional<SystemTime> parse_rfc3339(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!read_int(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !read_int(s, 5, 2, mo) || s[7] != '-' ||
      !read_int(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !read_int(s, 11, 2, h) ||
      s[13] != ':' || !read_int(s, 14, 2, mi) || s[16] != ':' || !read_int(s, 17, 2, sec))
    return std::nullopt;
  const auto civil = civil_time(y, mo, d, h, mi, sec);
  if (!civil) return std::nullopt;
  std::size_t pos = 19;
  nanoseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    long long value = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) value = value * 10 + (s[pos] - '0'), ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t i = digits; i < 9; ++i) value *= 10;
    frac = nanoseconds{value};
  }
  minutes offset{0};
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!read_int(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !read_int(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = hours{oh} + minutes{om};
    if (s[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  return time_point_cast<system_clock::duration>(*civil + frac - offset);
}

std::optional<SystemTime> civil_time(int y, int mo, int d, int h, int mi, int sec) {
  // SystemTime counts nanoseconds since 1970 in 64 bits, up to April 2262. From 1970 to 2261 a time, an
  // offset of a day added, or the difference of two such times (a Retry-After date less now) all fit.
  if (y < 1970 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return std::nullopt;
  return time_point_cast<system_clock::duration>(sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec});
}

namespace {
constexpr std::string_view weekday_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

std::string to_http_date(SystemTime t) {
  const auto s = floor<seconds>(t);
  const auto day = floor<days>(s);
  const year_month_day ymd{day};
  const hh_mm_ss hms{s - day};
  const weekday wd{day};
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", weekday_names[wd.c_encoding()],
                     static_cast<unsigned>(ymd.day()), month_names[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<int>(ymd.year()), hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

std::optional<SystemTime> parse_http_date(std::string_view s) {
  // "Sun, 06 Nov 1994 08:49:37 GMT": 29 characters at fixed positions.
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  const auto named = [](std::string_view name, const auto& names) -> int {
    for (std::size_t i = 0; i < std::size(names); ++i)
      if (names[i] == name) return static_cast<int>(i);
    return -1;
  };
  const int wd = named(s.substr(0, 3), weekday_names);
  const int mo = named(s.substr(8, 3), month_names);
  int d, y, h, mi, sec;
  if (wd < 0 || mo < 0 || !read_int(s, 5, 2, d) || !read_int(s, 12, 4, y) || !read_int(s, 17, 2, h) ||
      !read_int(s, 20, 2, mi) || !read_int(s, 23, 2, sec))
    return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo + 1)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  if (weekday{sys_days{ymd}}.c_encoding() != static_cast<unsigned>(wd)) return std::nullopt;
  return time_point_cast<system_clock::duration>(sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec});
}

std::string duration_text(seconds duration) {
  long long left = duration.count();
  const char* sign = left < 0 ? "-" : "";
  if (left < 0) left = -left;
  struct Unit {
    long long seconds;
    const char* name;
  };
  constexpr Unit units[] = {{86400, "d"}, {3600, "h"}, {60, "min"}, {1, "s"}};
  std::string out;
  int shown = 0;
  for (const auto& unit : units) {
    const long long n = left / unit.seconds;
    left %= unit.seconds;
    if (n == 0 && shown == 0) continue;
    if (n != 0) out += fmt::format("{}{} {}", out.empty() ? "" : " ", n, unit.name);
    if (++shown == 2) break;
  }
  return out.empty() ? "0 s" : sign + out;
}

}  // namespace edgeprov
