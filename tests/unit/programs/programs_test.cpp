// Every program that edgeprov's scripts, tests and build run is installed by its set-up scripts: the
// package list (scripts/debian-packages.txt) against what the shell scripts and CMake files of the source
// tree run. The C++ tests are checked when they start a program (tests/support/process_posix.cpp).
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tests/support/programs.h"

using namespace edgeprov::test;
using Catch::Matchers::ContainsSubstring;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> names(const std::vector<ShellCommand>& commands) {
  std::vector<std::string> out;
  for (const auto& c : commands) out.push_back(c.name);
  return out;
}

// The commands of a script, in the order the reader meets them: a substitution before its command.
std::vector<std::string> commands_of(std::string_view script) { return names(scan_shell(script).commands); }

using List = std::vector<std::string>;

const char* const small_list = R"(# a comment
coreutils     base    cat tr   # trailing comment
dash          base    sh
socat         linux   socat
catch2/bookworm-backports linux -
wine          windows wine
sudo          if-present sudo
)";

}  // namespace

TEST_CASE("the package list gives each program its package, set-up and line") {
  const auto list = PackageList::parse(small_list);
  REQUIRE(list.entries().size() == 6);
  const auto* socat = list.provider("socat");
  REQUIRE(socat);
  CHECK(socat->package == "socat");
  CHECK(socat->set == PackageSet::linux);
  CHECK(socat->line == 4);
  CHECK(list.provider("tr")->package == "coreutils");
  CHECK(list.entries()[3].package == "catch2");
  CHECK(list.entries()[3].suite == "bookworm-backports");
  CHECK(list.entries()[3].programs.empty());
  CHECK(list.provider("wine")->set == PackageSet::windows);
  CHECK(list.provider("sudo")->set == PackageSet::if_present);
  CHECK(list.provider("curl") == nullptr);
}

TEST_CASE("a malformed line of the package list is refused with its line number") {
  CHECK_THROWS_WITH(PackageList::parse("socat linux socat\nsocat2 linux socat\n"),
                    ContainsSubstring("scripts/debian-packages.txt:2: 'socat' is listed already, on line 1"));
  CHECK_THROWS_WITH(PackageList::parse("\ncurl everywhere curl\n"),
                    ContainsSubstring("scripts/debian-packages.txt:2: 'everywhere' is not a set-up"));
  CHECK_THROWS_WITH(PackageList::parse("libssl-dev linux\n"), ContainsSubstring(":1: no programs"));
  CHECK_THROWS_WITH(PackageList::parse("curl linux cu$rl\n"), ContainsSubstring("'cu$rl' is not a program name"));
  CHECK_THROWS_WITH(PackageList::parse("curl linux curl\ncurl linux -\n"),
                    ContainsSubstring("package curl is listed already, on line 1"));
}

TEST_CASE("the shell reader finds the commands of pipelines, lists and substitutions") {
  CHECK(commands_of("openssl dgst -sha256 -binary f | base32 | tr A-Z a-z && rm x || cut -c1") ==
        List{"openssl", "base32", "tr", "rm", "cut"});
  CHECK(commands_of("x=$(date +%s); y=\"$(id -u) `hostname`\"\necho \"$(( $(nproc) * 2 ))\"") ==
        List{"date", "id", "hostname", "nproc"});
  CHECK(commands_of("(cd dir && make -j2) >log 2>&1 &\nwait") == List{"make"});
  CHECK(commands_of("if grep -q a f; then sed -n 1p f; elif [ -x y ]; then :; else stat f; fi") ==
        List{"grep", "sed", "stat"});
  CHECK(commands_of("while read -r l; do wc -l; done < <(find . -name x)") == List{"wc", "find"});
  CHECK(commands_of("read -r a b <<<\"$(free 3)\"; diff <(sort a) >(tee b)") == List{"free", "sort", "tee", "diff"});
}

TEST_CASE("the shell reader leaves out arguments, quotes, variables, builtins and paths") {
  CHECK(commands_of("echo 'curl | wget' \"socat; nc\"; printf '%s' x; test -f y; cd /; local z") == List{});
  CHECK(commands_of("\"$bin/edgeprovctl\" status; $CC -v; \"$@\"; scripts/setup-debian.sh; ./configure") == List{});
  CHECK(commands_of("/usr/bin/env bash -c true; /opt/tool x") == List{"env", "bash"});
  CHECK(commands_of("FOO=1 BAR=\"$(uname)\" make install; arr=(curl wget \"$(whoami)\"); a+=(x)") ==
        List{"uname", "make", "whoami"});
  CHECK(commands_of("# curl in a comment\nls # and wget here\nx=a#b") == List{"ls"});
  CHECK(commands_of("[[ $x == a && $y =~ ^(b|c)$ ]] && touch f; (( i++ )); for ((i = 0; i < 3; i++)); do seq 1; done") ==
        List{"touch", "seq"});
  CHECK(commands_of("for f in curl wget; do cp \"$f\" .; done; echo ${x:-$(basename \"$y\")}") == List{"cp", "basename"});
}

TEST_CASE("the shell reader skips here-documents and case patterns") {
  CHECK(commands_of("python3 - \"$1\" <<'EOF'\nimport socket\nprint(1)\nEOF\ncat >f <<-X\n\tcurl\n\tX\nls") ==
        List{"python3", "cat", "ls"});
  CHECK(commands_of("x=$(cat <<JSON\n{\"a\": 1}\nJSON\n)\nhead -1") == List{"cat", "head"});
  CHECK(commands_of("case \"$1\" in \"\") ;; --keep) k=1 ;; -h|--help) sed -n 2p \"$0\"; exit 0 ;; *) uname ;; esac; date") ==
        List{"sed", "uname", "date"});
  CHECK(commands_of("case $t in\n  openssl) build_openssl ;;\n  tpm2-tss) case $u in a) tar x ;; esac ;;\n  *) rm -f y\nesac\nls") ==
        List{"build_openssl", "tar", "rm", "ls"});
}

TEST_CASE("the shell reader follows programs that run another program") {
  CHECK(commands_of("exec nice -n 19 ionice -c3 make; nice -n 10 cmake --build b") ==
        List{"nice", "ionice", "make", "nice", "cmake"});
  CHECK(commands_of("timeout 5 openssl s_client; env -i HOME=/ PATH=/bin tar x; stdbuf -o0 -e0 grep a") ==
        List{"timeout", "openssl", "env", "tar", "stdbuf", "grep"});
  CHECK(commands_of("sudo --preserve-env=X \"$0\"; sudo -u nobody id; runuser -u nobody -- socat - x") ==
        List{"sudo", "sudo", "id", "runuser", "socat"});
  CHECK(commands_of("setpriv --reuid=65534 --clear-groups curl x; flock 9; flock -w 5 f ps") ==
        List{"setpriv", "curl", "flock", "flock", "ps"});
  CHECK(commands_of("command -v socat >/dev/null || exec 3<>\"/dev/tcp/127.0.0.1/$1\"; command xxd -p") == List{"xxd"});
  CHECK(commands_of("sh -c 'openssl rand 4 | od'; bash -euo pipefail -c \"ip link\"; bash \"$f\"; trap 'pkill x' EXIT") ==
        List{"sh", "openssl", "od", "bash", "ip", "bash", "pkill"});
}

TEST_CASE("the shell reader knows the functions a script defines, those that run a command, and what it sources") {
  const auto scan = scan_shell("start() {\n  local name=$1\n  shift 2\n  \"$@\" >\"$log\" 2>&1 &\n}\n"
                               "function stop_all { pkill x; }\nctl() { \"$bin/edgeprovctl\" \"$@\"; }\n"
                               ". \"$(dirname \"$0\")/../lib.sh\"\nstart swtpm \"$dir/log\" swtpm socket\nstop_all\nctl init\n"
                               "expect \"it answers\" grep -q x f");
  CHECK(scan.functions == List{"start", "stop_all", "ctl"});
  CHECK(scan.runners == std::map<std::string, std::size_t, std::less<>>{{"start", 2}});
  CHECK(scan.sourced == List{"$(dirname \"$0\")/../lib.sh"});
  // pkill in stop_all, dirname, expect (maybe lib.sh's function), then swtpm through start, on line 9
  CHECK(names(scan.commands) == List{"pkill", "dirname", "expect", "swtpm"});
  CHECK(scan.commands[3].line == 9);
  REQUIRE(scan.calls.size() == 6);
  CHECK(scan.calls[5].name == "expect");
  CHECK(scan.calls[5].arguments.size() == 5);

  // lib.sh's runner, given by the caller
  auto with_lib = scan;
  add_commands_of_runners(with_lib, {{"expect", 1}});
  CHECK(names(with_lib.commands) == List{"pkill", "dirname", "expect", "swtpm", "grep"});
}

TEST_CASE("the programs of an argv: the program, what it runs, and the commands of sh -c") {
  CHECK(names(programs_of_argv({"socat", "-t", "10", "-", "UNIX-CONNECT:/x"})) == List{"socat"});
  CHECK(names(programs_of_argv({"/build/bin/edgeprovd", "--config", "c"})) == List{});
  CHECK(names(programs_of_argv({"timeout", "2", "stdbuf", "-o0", "-e0", "mosquitto_pub", "-t", "$dps/x"})) ==
        List{"timeout", "stdbuf", "mosquitto_pub"});
  CHECK(names(programs_of_argv({"sh", "-c", "set -e\nopenssl dgst -sha256 '/tmp/x' | base32 | tr -d '='"})) ==
        List{"sh", "openssl", "base32", "tr"});
  // A function the script defines is not a program, though the script is an argument of sh.
  CHECK(names(programs_of_argv({"sh", "-c", "wait_for() { curl -sf \"$1\"; }\n{ printf x; wait_for a; } | timeout 2 cat"})) ==
        List{"sh", "curl", "timeout", "cat"});
}

TEST_CASE("a test may run only the programs listed for Linux, and is told which file to edit") {
  const auto list = PackageList::parse(small_list);
  CHECK_FALSE(unlisted_program({"socat", "-"}, list));
  CHECK_FALSE(unlisted_program({"/build/bin/edgeprovctl", "status"}, list));
  CHECK_FALSE(unlisted_program({"sh", "-c", "cat f | tr a b"}, list));

  const auto curl = unlisted_program({"curl", "-sS", "http://x"}, list);
  REQUIRE(curl);
  CHECK_THAT(*curl, ContainsSubstring("runs `curl` (command: curl -sS http://x)"));
  CHECK_THAT(*curl, ContainsSubstring("scripts/debian-packages.txt does not list"));
  CHECK_THAT(*curl, ContainsSubstring("`PACKAGE  linux  curl`"));
  CHECK_THAT(*curl, ContainsSubstring("scripts/setup-debian.sh installs it"));

  const auto scripted = unlisted_program({"sh", "-c", "cat f | xxd -p"}, list);
  REQUIRE(scripted);
  CHECK_THAT(*scripted, ContainsSubstring("runs `xxd`"));

  const auto windows = unlisted_program({"wine", "x.exe"}, list);
  REQUIRE(windows);
  CHECK_THAT(*windows, ContainsSubstring("scripts/debian-packages.txt:6 lists only for the Windows set-up"));
  CHECK(unlisted_program({"sudo", "id"}, list));
}

TEST_CASE("the CMake reader finds COMMAND, find_program and a toolchain's tools") {
  const auto found = cmake_programs(R"(
set(HOST x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${HOST}-gcc-posix)
set(CMAKE_AR ${HOST}-gcc-ar CACHE FILEPATH "")
find_program(CCACHE ccache)
find_program(TOOL NAMES tool1 tool2 HINTS /opt DOC "a tool")
# execute_process(COMMAND commented-out)
execute_process(COMMAND git rev-parse HEAD)
add_custom_command(OUTPUT x COMMAND ${CMAKE_COMMAND} -E true COMMAND scripts/gen.sh)
set(SNIPPET [=[
  ExecWait '"$INSTDIR\bin\edgeprovd.exe" install' COMMAND notacommand
]=])
)");
  CHECK(names(found) == List{"x86_64-w64-mingw32-gcc-posix", "x86_64-w64-mingw32-gcc-ar", "ccache", "tool1", "tool2", "git"});
  CHECK(found[5].line == 8);
}

// --- the source tree ---------------------------------------------------------------------------------------

namespace {

struct SourceFile {
  fs::path path;      // absolute
  std::string name;   // relative to the source tree, for messages
  bool windows = false;  // part of the Windows build or tests: may run what the Windows set-up installs
};

bool is_shell_script(const fs::path& path) {
  if (path.extension() == ".sh") return true;
  if (path.has_extension()) return false;
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  return first.starts_with("#!") && (first.find("sh") != std::string::npos);
}

// Shell scripts of the directories whose programs the set-up must provide: scripts/ (set-up, demo,
// test), tests/, bench/, .ci/. installer/ holds what runs on a user's machine, whose needs are the
// package's own dependencies.
std::vector<SourceFile> source_files(bool (*wanted)(const fs::path&), std::initializer_list<const char*> roots) {
  std::vector<SourceFile> files;
  const fs::path top = source_dir();
  for (const char* root : roots) {
    if (!fs::exists(top / root)) continue;
    if (fs::is_regular_file(top / root)) {
      if (wanted(top / root)) files.push_back({top / root, root, false});
      continue;
    }
    for (auto it = fs::recursive_directory_iterator(top / root); it != fs::recursive_directory_iterator(); ++it) {
      const std::string dir = it->path().filename().string();
      if (it->is_directory() && (dir.starts_with("build") || dir.starts_with("."))) {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file() && wanted(it->path())) files.push_back({it->path(), fs::relative(it->path(), top).string(), false});
    }
  }
  for (auto& f : files) {
    for (const auto& part : fs::path(f.name))
      if (part == "windows" || part.string().find("mingw") != std::string::npos) f.windows = true;
  }
  std::sort(files.begin(), files.end(), [](const SourceFile& a, const SourceFile& b) { return a.name < b.name; });
  return files;
}

bool is_cmake_file(const fs::path& path) {
  return path.filename() == "CMakeLists.txt" || path.extension() == ".cmake";
}

std::string allowed_sets(bool windows) {
  return windows ? "base, linux, windows or if-present" : "base, linux or if-present (not windows: this file is not part of the Windows build)";
}

bool allowed(const PackageEntry* entry, bool windows) {
  return entry && (entry->set != PackageSet::windows || windows);
}

std::string how_to_list(const std::string& program, bool windows) {
  return "add it to the line of the Debian package that provides it in " + std::string(package_list_path) +
         " (dpkg -S $(command -v " + program + ") names it), or a new line `PACKAGE  " + (windows ? "windows" : "linux") +
         "  " + program + "`: scripts/setup-debian.sh and scripts/windows/setup-cross.sh install what it lists";
}

}  // namespace

TEST_CASE("every program the scripts, the demo and the tests' shell scripts run is in scripts/debian-packages.txt") {
  const auto list = PackageList::load();
  const auto files = source_files(is_shell_script, {"scripts", "tests", "bench", ".ci"});
  REQUIRE(files.size() >= 10);  // the scan found the scripts

  std::map<std::string, ShellScan> scans;
  for (const auto& f : files) scans[f.name] = scan_shell(read_file(f.path));
  // A sourced file's functions are the sourcing file's too (tests/windows/lib.sh for the scenarios).
  std::map<std::string, std::set<std::string>> functions_of;
  for (const auto& f : files) {
    auto& scan = scans[f.name];
    auto& functions = functions_of[f.name];
    functions.insert(scan.functions.begin(), scan.functions.end());
    for (const auto& sourced : scan.sourced) {
      for (const auto& other : files) {
        if (other.path.filename() != fs::path(sourced).filename() || other.name == f.name) continue;
        const auto& lib = scans[other.name];
        functions.insert(lib.functions.begin(), lib.functions.end());
        add_commands_of_runners(scan, lib.runners);
      }
    }
  }

  std::vector<std::string> problems;
  std::size_t checked = 0;
  for (const auto& f : files) {
    const auto& scan = scans[f.name];
    const auto& functions = functions_of[f.name];
    for (const auto& c : scan.commands) {
      if (functions.count(c.name)) continue;
      ++checked;
      const auto* entry = list.provider(c.name);
      if (allowed(entry, f.windows)) continue;
      if (entry)
        problems.push_back(f.name + ":" + std::to_string(c.line) + ": runs `" + c.name + "`, which " + std::string(package_list_path) + ":" +
                           std::to_string(entry->line) + " lists for the Windows set-up only; this file may run the sets " +
                           allowed_sets(f.windows));
      else
        problems.push_back(f.name + ":" + std::to_string(c.line) + ": runs `" + c.name + "`, which " + std::string(package_list_path) +
                           " does not list: " + how_to_list(c.name, f.windows));
    }
  }
  std::string report;
  for (const auto& p : problems) report += p + "\n";
  INFO(report);
  CHECK(problems.empty());
  CHECK(checked > 100);  // the reader saw the scripts' commands
}

TEST_CASE("every program the CMake files run is in scripts/debian-packages.txt") {
  const auto list = PackageList::load();
  const auto files = source_files(is_cmake_file, {""});  // the whole tree but build*/ and hidden folders
  std::vector<std::string> problems;
  std::size_t checked = 0;
  for (const auto& f : files) {
    for (const auto& p : cmake_programs(read_file(f.path))) {
      ++checked;
      if (allowed(list.provider(p.name), f.windows)) continue;
      problems.push_back(f.name + ":" + std::to_string(p.line) + ": CMake runs `" + p.name + "`, which " +
                         std::string(package_list_path) + " does not list for this file: " + how_to_list(p.name, f.windows));
    }
  }
  std::string report;
  for (const auto& p : problems) report += p + "\n";
  INFO(report);
  CHECK(problems.empty());
  CHECK(checked >= 5);  // git, ccache and the mingw toolchain's tools at least
}

TEST_CASE("every compiler or tool CMakePresets.json names is in scripts/debian-packages.txt") {
  const auto list = PackageList::load();
  const auto presets = nlohmann::json::parse(read_file(source_dir() / "CMakePresets.json"));
  std::vector<std::string> problems;
  const auto configure_presets = presets.value("configurePresets", nlohmann::json::array());
  REQUIRE(configure_presets.size() >= 4);
  for (const auto& preset : configure_presets) {
    const std::string name = preset.value("name", "");
    const bool windows = name.find("windows") != std::string::npos;
    const auto variables = preset.value("cacheVariables", nlohmann::json::object());
    for (const auto& [variable, value] : variables.items()) {
      if (!cmake_names_a_tool(variable) || !value.is_string()) continue;
      const std::string program = fs::path(value.get<std::string>()).filename().string();
      if (!allowed(list.provider(program), windows))
        problems.push_back("CMakePresets.json: the preset " + name + " sets " + variable + " to `" + program + "`, which " +
                           std::string(package_list_path) + " does not list for it: " + how_to_list(program, windows));
    }
  }
  std::string report;
  for (const auto& p : problems) report += p + "\n";
  INFO(report);
  CHECK(problems.empty());
}
