#include "bench/fleet/figures.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

namespace edgeprov::fleet {

using emulator::Outcome;
using emulator::RequestKind;

namespace {

constexpr Outcome all_outcomes[] = {Outcome::accepted, Outcome::throttled, Outcome::refused};

// Register requests in each second, all outcomes or one.
std::vector<double> registers_per_second(const Traffic& traffic, std::optional<Outcome> only = std::nullopt) {
  std::vector<double> out(traffic.seconds());
  for (std::size_t s = 0; s < out.size(); ++s)
    for (auto o : all_outcomes)
      if (!only || *only == o) out[s] += traffic.at(s, RequestKind::register_device, o);
  return out;
}

// Sums over the trailing 60 s ending with each second.
std::vector<double> per_minute(const std::vector<double>& per_second) {
  std::vector<double> out(per_second.size());
  double sum = 0;
  for (std::size_t s = 0; s < per_second.size(); ++s) {
    sum += per_second[s];
    if (s >= 60) sum -= per_second[s - 60];
    out[s] = sum;
  }
  return out;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

}  // namespace

Figures figures(const FleetSpec& spec, const FleetRun& run) {
  Figures f;
  f.devices = run.devices.size();
  f.quota_per_minute = quota_per_minute(spec);
  f.floor_seconds = seconds(floor_time(spec));
  std::vector<double> latencies;
  double throttled = 0, requests = 0, refused = 0;
  for (const auto& d : run.devices) {
    throttled += d.throttled;
    refused += d.refused;
    requests += d.registers + d.polls;
    f.throttled_per_device_max = std::max<double>(f.throttled_per_device_max, d.throttled);
    if (d.provisioned) {
      f.converged_seconds = std::max(f.converged_seconds, seconds(*d.provisioned));
      latencies.push_back(seconds(*d.provisioned - d.started));
    } else {
      ++f.failed;
    }
  }
  const double n = std::max<double>(1, static_cast<double>(f.devices));
  f.convergence_ratio = f.floor_seconds > 0 ? f.converged_seconds / f.floor_seconds : 0;
  f.throttled_per_device_mean = throttled / n;
  f.requests_per_device_mean = requests / n;
  f.refused_per_device_mean = refused / n;
  f.p50_seconds = percentile(latencies, 50);
  f.p99_seconds = percentile(latencies, 99);
  const auto minute = per_minute(registers_per_second(run.traffic));
  f.peak_requests_per_minute = minute.empty() ? 0 : *std::max_element(minute.begin(), minute.end());
  f.wall_seconds = run.wall_seconds;
  f.converged_seconds_min = f.converged_seconds_max = f.converged_seconds;
  f.throttled_per_device_mean_min = f.throttled_per_device_mean_max = f.throttled_per_device_mean;
  return f;
}

Figures mean(const std::vector<Figures>& runs) {
  Figures m;
  if (runs.empty()) return m;
  m = runs.front();
  const double k = static_cast<double>(runs.size());
  auto average = [&](double Figures::*field) {
    m.*field = std::accumulate(runs.begin(), runs.end(), 0.0, [&](double s, const Figures& f) { return s + f.*field; }) / k;
  };
  for (auto field : {&Figures::converged_seconds, &Figures::convergence_ratio, &Figures::throttled_per_device_mean,
                     &Figures::throttled_per_device_max, &Figures::p50_seconds, &Figures::p99_seconds,
                     &Figures::peak_requests_per_minute, &Figures::failed, &Figures::requests_per_device_mean,
                     &Figures::refused_per_device_mean})
    average(field);
  m.wall_seconds = std::accumulate(runs.begin(), runs.end(), 0.0, [](double s, const Figures& f) { return s + f.wall_seconds; });
  m.runs = runs.size();
  for (const auto& f : runs) {
    m.converged_seconds_min = std::min(m.converged_seconds_min, f.converged_seconds);
    m.converged_seconds_max = std::max(m.converged_seconds_max, f.converged_seconds);
    m.throttled_per_device_mean_min = std::min(m.throttled_per_device_mean_min, f.throttled_per_device_mean);
    m.throttled_per_device_mean_max = std::max(m.throttled_per_device_mean_max, f.throttled_per_device_mean);
  }
  return m;
}

nlohmann::json to_json(const Figures& f) {
  auto round = [](double v, int digits) {
    const double scale = std::pow(10.0, digits);
    return std::round(v * scale) / scale;
  };
  return {{"devices", f.devices},
          {"quota_per_minute", round(f.quota_per_minute, 3)},
          {"floor_seconds", round(f.floor_seconds, 3)},
          {"converged_seconds", round(f.converged_seconds, 3)},
          {"convergence_ratio", round(f.convergence_ratio, 4)},
          {"throttled_per_device_mean", round(f.throttled_per_device_mean, 4)},
          {"throttled_per_device_max", round(f.throttled_per_device_max, 2)},
          {"p50_seconds", round(f.p50_seconds, 3)},
          {"p99_seconds", round(f.p99_seconds, 3)},
          {"peak_requests_per_minute", round(f.peak_requests_per_minute, 2)},
          {"failed", round(f.failed, 2)},
          {"wall_seconds", round(f.wall_seconds, 3)},
          {"requests_per_device_mean", round(f.requests_per_device_mean, 4)},
          {"refused_per_device_mean", round(f.refused_per_device_mean, 4)},
          {"runs", f.runs},
          {"converged_seconds_range", {round(f.converged_seconds_min, 3), round(f.converged_seconds_max, 3)}},
          {"throttled_per_device_mean_range",
           {round(f.throttled_per_device_mean_min, 4), round(f.throttled_per_device_mean_max, 4)}}};
}

std::string table(const std::vector<std::pair<std::string, Figures>>& rows) {
  std::string out = fmt::format("{:<26} {:>8} {:>9} {:>9} {:>7} {:>9} {:>6} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8}\n",
                                "", "devices", "floor s", "conv. s", "ratio", "thr/dev", "max", "p50 s", "p99 s",
                                "peak/min", "failed", "req/dev", "wall s");
  for (const auto& [label, f] : rows)
    out += fmt::format("{:<26} {:>8} {:>9.1f} {:>9.1f} {:>7.3f} {:>9.3f} {:>6.1f} {:>8.1f} {:>8.1f} {:>8.1f} {:>7.1f} "
                       "{:>8.2f} {:>8.2f}\n",
                       label, f.devices, f.floor_seconds, f.converged_seconds, f.convergence_ratio,
                       f.throttled_per_device_mean, f.throttled_per_device_max, f.p50_seconds, f.p99_seconds,
                       f.peak_requests_per_minute, f.failed, f.requests_per_device_mean, f.wall_seconds);
  return out;
}

// ---- the picture ---------------------------------------------------------------------------------------------

namespace {

// 1, 2 or 5 times a power of ten, at least `raw`.
double nice_step(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(std::max(raw, 1e-9))));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) return m * power;
  return 10 * power;
}

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string svg_chart(const FleetSpec& spec, const std::vector<ChartLine>& lines, const std::string& title) {
  const double bottom = 76 + 18 * static_cast<double>(lines.size());
  constexpr double width = 960, left = 70, right = 20, top = 50, plot_height = 340;
  const double height = top + plot_height + bottom;
  constexpr int sample_every = 5;  // seconds
  const double plot_w = width - left - right, plot_h = plot_height;
  const double quota = quota_per_minute(spec);

  struct Curve {
    std::vector<double> all, accepted;
  };
  std::vector<Curve> curves;
  double end = seconds(floor_time(spec)) * 1.1;
  double peak = quota;
  for (const auto& line : lines) {
    Curve c{per_minute(registers_per_second(line.run->traffic)),
            per_minute(registers_per_second(line.run->traffic, Outcome::accepted))};
    if (!c.all.empty()) peak = std::max(peak, *std::max_element(c.all.begin(), c.all.end()));
    end = std::max(end, line.converged_seconds * 1.05);
    curves.push_back(std::move(c));
  }
  const bool logarithmic = peak > 10 * quota;
  const double y_top = logarithmic ? std::pow(10.0, std::ceil(std::log10(peak * 1.05)))
                                   : nice_step(peak * 1.1 / 8) * std::ceil(peak * 1.1 / nice_step(peak * 1.1 / 8));
  auto x_of = [&](double s) { return left + plot_w * std::min(s, end) / end; };
  auto y_of = [&](double v) {
    if (logarithmic) return top + plot_h * (1 - std::log10(std::max(v, 1.0)) / std::log10(y_top));
    return top + plot_h * (1 - v / y_top);
  };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{3}</text>\n",
      width, height, left, escape(title));
  // Axes, grid and ticks.
  const double minutes = end / 60;
  const double x_step = nice_step(minutes / 12);
  for (double m = 0; m <= minutes + 1e-9; m += x_step) {
    const double x = x_of(m * 60);
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#eee\"/>"
                       "<text x=\"{0:.1f}\" y=\"{3}\" text-anchor=\"middle\">{4:g}</text>\n",
                       x, top, top + plot_h, top + plot_h + 16, m);
  }
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">minutes since the first device started</text>\n",
                     left + plot_w / 2, top + plot_h + 34);
  std::vector<double> y_ticks;
  if (logarithmic) {
    for (double v = 1; v <= y_top * 1.0001; v *= 10) y_ticks.push_back(v);
  } else {
    const double step = nice_step(y_top / 8);
    for (double v = 0; v <= y_top + 1e-9; v += step) y_ticks.push_back(v);
  }
  for (double v : y_ticks) {
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"#eee\"/>"
                       "<text x=\"{3}\" y=\"{4:.1f}\" text-anchor=\"end\">{5:g}</text>\n",
                       left, y_of(v), left + plot_w, left - 6, y_of(v) + 4, v);
  }
  svg += fmt::format("<text transform=\"translate(18 {:.1f}) rotate(-90)\" text-anchor=\"middle\">register requests per "
                     "minute{}</text>\n",
                     top + plot_h / 2, logarithmic ? " (log scale)" : "");
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n", left, top,
                     plot_w, plot_h);
  // The outage, shaded.
  if (spec.scenario == Scenario::outage) {
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#f4e4e4\"/>"
                       "<text x=\"{:.1f}\" y=\"{}\" fill=\"#a66\">DPS down (503)</text>\n",
                       x_of(0), top, x_of(seconds(spec.outage_length)) - x_of(0), plot_h, x_of(0) + 6, top + 16);
  }
  // The quota and the floor.
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"black\" stroke-dasharray=\"6 4\"/>"
                     "<text x=\"{3}\" y=\"{4:.1f}\">quota {5:g}/min</text>\n",
                     left, y_of(quota), left + plot_w, left + plot_w - 110, y_of(quota) - 5, quota);
  const double floor_x = x_of(seconds(floor_time(spec)));
  svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#555\" stroke-dasharray=\"2 3\"/>"
                     "<text x=\"{3:.1f}\" y=\"{4}\" fill=\"#555\">floor</text>\n",
                     floor_x, top, top + plot_h, floor_x + 3, top + plot_h - 6);
  // The curves: every register request (solid), those accepted (thin, dotted); convergence (a tick at the top).
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& c = curves[i];
    auto path = [&](const std::vector<double>& values) {
      std::string d;
      for (std::size_t s = 0; s < values.size(); s += sample_every)
        d += fmt::format("{}{:.1f},{:.1f}", d.empty() ? "M" : " L", x_of(static_cast<double>(s)), y_of(values[s]));
      if (!values.empty())
        d += fmt::format(" L{:.1f},{:.1f}", x_of(static_cast<double>(values.size())), y_of(0));
      return d;
    };
    svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", path(c.all), lines[i].colour);
    svg += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1\" stroke-dasharray=\"2 2\"/>\n",
                       path(c.accepted), lines[i].colour);
    const double cx = x_of(lines[i].converged_seconds);
    svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"3\"/>\n", cx,
                       top, top + 14, lines[i].colour);
    // Legend: one line a policy.
    const double ly = top + plot_h + 74 + 18 * static_cast<double>(i);
    svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" stroke-width=\"2\"/>"
                       "<text x=\"{4}\" y=\"{5}\">{6}: every device provisioned at {7:.0f} s</text>\n",
                       left, ly, left + 24, lines[i].colour, left + 30, ly + 4, escape(lines[i].label),
                       lines[i].converged_seconds);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"#555\">solid: all register requests; dotted: those accepted "
                     "(both over the trailing minute); dashed: the quota; tick at the top: last device provisioned</text>\n",
                     left, top + plot_h + 54);
  svg += "</svg>\n";
  return svg;
}

}  // namespace edgeprov::fleet
