#include "emulator/mqtt_codec.h"

namespace edgeprov::emulator::mqtt {
namespace {

struct Reader {
  ByteView data;
  std::size_t at = 0;
  bool ok = true;
  std::uint8_t u8() {
    if (at + 1 > data.size()) { ok = false; return 0; }
    return data[at++];
  }
  std::uint16_t u16() {
    std::uint16_t hi = u8();
    return static_cast<std::uint16_t>(hi << 8 | u8());
  }
  std::string bytes(std::size_t n) {
    if (!ok || at + n > data.size()) { ok = false; return {}; }
    std::string out(reinterpret_cast<const char*>(data.data() + at), n);
    at += n;
    return out;
  }
  std::string string() { return bytes(u16()); }
  bool done() const { return at == data.size(); }
};

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size() || c == 0) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}
void put_string(Bytes& out, std::string_view s) {
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}
Bytes packet(std::uint8_t first, const Bytes& body) {
  Bytes out{first};
  std::size_t length = body.size();
  do {
    std::uint8_t digit = length % 128;
    length /= 128;
    if (length > 0) digit |= 0x80;
    out.push_back(digit);
  } while (length > 0);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::nullopt_t fail(std::string& error, const char* why) {
  error = why;
  return std::nullopt;
}

}  // namespace

Frame frame(ByteView buffer, std::size_t max_size) {
  if (buffer.size() < 2) return {};
  std::size_t length = 0, multiplier = 1;
  for (std::size_t i = 1; i <= 4; ++i) {
    if (i >= buffer.size()) return {};
    length += (buffer[i] & 0x7F) * multiplier;
    multiplier *= 128;
    if ((buffer[i] & 0x80) == 0) {
      std::size_t total = i + 1 + length;
      if (total > max_size) return {Frame::Status::malformed, 0};
      if (buffer.size() < total) return {};
      return {Frame::Status::complete, total};
    }
  }
  return {Frame::Status::malformed, 0};
}

std::optional<Packet> decode(ByteView data, std::string& error) {
  if (data.size() < 2) return fail(error, "packet too short");
  std::uint8_t type = data[0] >> 4, flags = data[0] & 0x0F;
  std::size_t header = 2;
  while (header < data.size() && (data[header - 1] & 0x80)) ++header;
  Reader r{data.subspan(header)};
  switch (type) {
    case 1: {
      if (flags != 0) return fail(error, "CONNECT flags must be 0");
      Connect c;
      c.protocol_name = r.string();
      c.protocol_level = r.u8();
      std::uint8_t connect_flags = r.u8();
      c.keep_alive = r.u16();
      if (!r.ok) return fail(error, "CONNECT truncated");
      if (connect_flags & 0x01) return fail(error, "CONNECT reserved flag set");
      c.clean_session = connect_flags & 0x02;
      bool will = connect_flags & 0x04, has_user = connect_flags & 0x80, has_password = connect_flags & 0x40;
      if (!will && (connect_flags & 0x38)) return fail(error, "CONNECT will QoS/retain without a will");
      if ((connect_flags & 0x18) == 0x18) return fail(error, "CONNECT will QoS 3");
      if (!has_user && has_password) return fail(error, "CONNECT password without user name");
      c.client_id = r.string();
      if (will) {
        r.string();  // will topic
        r.string();  // will message
      }
      if (has_user) c.username = r.string();
      if (has_password) c.password = r.string();
      if (!r.ok || !r.done()) return fail(error, "CONNECT payload malformed");
      if (!valid_utf8(c.client_id) || (c.username && !valid_utf8(*c.username))) return fail(error, "CONNECT strings are not UTF-8");
      return c;
    }
    case 3: {
      Publish p;
      p.dup = flags & 0x08;
      p.qos = (flags >> 1) & 0x03;
      p.retain = flags & 0x01;
      if (p.qos == 3) return fail(error, "PUBLISH QoS 3");
      p.topic = r.string();
      if (p.qos > 0) p.packet_id = r.u16();
      if (!r.ok) return fail(error, "PUBLISH truncated");
      if (p.topic.empty() || !valid_utf8(p.topic) || p.topic.find_first_of("+#") != std::string::npos)
        return fail(error, "PUBLISH topic invalid");
      if (p.qos > 0 && p.packet_id == 0) return fail(error, "PUBLISH packet id 0");
      p.payload = r.bytes(r.data.size() - r.at);
      return p;
    }
    case 4: {
      if (flags != 0) return fail(error, "PUBACK flags must be 0");
      PubAck a{r.u16()};
      if (!r.ok || !r.done()) return fail(error, "PUBACK malformed");
      return a;
    }
    case 8: {
      if (flags != 0x02) return fail(error, "SUBSCRIBE flags must be 2");
      Subscribe s;
      s.packet_id = r.u16();
      while (r.ok && !r.done()) {
        std::string filter = r.string();
        std::uint8_t qos = r.u8();
        if (!r.ok || filter.empty() || !valid_utf8(filter) || qos > 2) return fail(error, "SUBSCRIBE filter malformed");
        s.filters.emplace_back(std::move(filter), qos);
      }
      if (!r.ok || s.filters.empty() || s.packet_id == 0) return fail(error, "SUBSCRIBE malformed");
      return s;
    }
    case 10: {
      if (flags != 0x02) return fail(error, "UNSUBSCRIBE flags must be 2");
      Unsubscribe u;
      u.packet_id = r.u16();
      while (r.ok && !r.done()) u.filters.push_back(r.string());
      if (!r.ok || u.filters.empty() || u.packet_id == 0) return fail(error, "UNSUBSCRIBE malformed");
      return u;
    }
    case 12:
      if (flags != 0 || !r.done()) return fail(error, "PINGREQ malformed");
      return PingReq{};
    case 14:
      if (flags != 0 || !r.done()) return fail(error, "DISCONNECT malformed");
      return Disconnect{};
    default:
      return fail(error, "unexpected packet type");
  }
}

Bytes encode_connack(bool session_present, std::uint8_t return_code) {
  return packet(0x20, {static_cast<std::uint8_t>(session_present ? 1 : 0), return_code});
}

Bytes encode_publish(std::string_view topic, std::string_view payload, std::uint8_t qos, std::uint16_t packet_id) {
  Bytes body;
  put_string(body, topic);
  if (qos > 0) put_u16(body, packet_id);
  body.insert(body.end(), payload.begin(), payload.end());
  return packet(static_cast<std::uint8_t>(0x30 | (qos << 1)), body);
}

Bytes encode_puback(std::uint16_t packet_id) {
  Bytes body;
  put_u16(body, packet_id);
  return packet(0x40, body);
}

Bytes encode_suback(std::uint16_t packet_id, const std::vector<std::uint8_t>& return_codes) {
  Bytes body;
  put_u16(body, packet_id);
  body.insert(body.end(), return_codes.begin(), return_codes.end());
  return packet(0x90, body);
}

Bytes encode_unsuback(std::uint16_t packet_id) {
  Bytes body;
  put_u16(body, packet_id);
  return packet(0xB0, body);
}

Bytes encode_pingresp() { return {0xD0, 0x00}; }

Bytes encode_connect(const Connect& c) {
  Bytes body;
  put_string(body, c.protocol_name);
  body.push_back(c.protocol_level);
  std::uint8_t flags = (c.clean_session ? 0x02 : 0) | (c.username ? 0x80 : 0) | (c.password ? 0x40 : 0);
  body.push_back(flags);
  put_u16(body, c.keep_alive);
  put_string(body, c.client_id);
  if (c.username) put_string(body, *c.username);
  if (c.password) put_string(body, *c.password);
  return packet(0x10, body);
}

Bytes encode_subscribe(const Subscribe& s) {
  Bytes body;
  put_u16(body, s.packet_id);
  for (const auto& [filter, qos] : s.filters) {
    put_string(body, filter);
    body.push_back(qos);
  }
  return packet(0x82, body);
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  while (true) {
    auto f_end = filter.find('/');
    auto t_end = topic.find('/');
    std::string_view f = filter.substr(0, f_end), t = topic.substr(0, t_end);
    if (f == "#") return true;
    if (f != "+" && f != t) return false;
    if (f_end == std::string_view::npos || t_end == std::string_view::npos) {
      if (f_end == std::string_view::npos && t_end == std::string_view::npos) return true;
      // "a/#" also matches "a"
      return t_end == std::string_view::npos && filter.substr(f_end + 1) == "#";
    }
    filter.remove_prefix(f_end + 1);
    topic.remove_prefix(t_end + 1);
  }
}

}  // namespace edgeprov::emulator::mqtt
