// Shared by the transport integration tests: run one asynchronous request to completion on a test
// io_context, and capture everything edgeprov logs so a test can scan it for secrets.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace edgeprov::test {

// Runs `io` until `result` is set or `limit` passes (then throws: a transport must always complete).
template <typename T>
T run_until(boost::asio::io_context& io, std::optional<T>& result,
            std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!result && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(50));
  if (!result) throw std::runtime_error("the transport did not complete the request");
  return std::move(*result);
}

// Sends spdlog's default logger (all levels) into a string for the lifetime of this object.
class LogCapture {
 public:
  LogCapture() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
    previous_ = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() {
    spdlog::default_logger()->flush();
    return stream_.str();
  }

 private:
  std::ostringstream stream_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace edgeprov::test
