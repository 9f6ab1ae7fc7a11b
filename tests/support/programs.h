// tests/support/programs.h — which programs edgeprov's tests, benchmarks and scripts may run: the list of
// Debian packages in scripts/debian-packages.txt (what the set-up scripts install) and a reader of shell
// text that finds the programs a script runs. Keeps a program that no set-up installs from being used
// unnoticed on a machine where it happens to be installed. Tests only; never linked into the product.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgeprov::test {

// Which set-up provides a package (the second column of scripts/debian-packages.txt).
enum class PackageSet {
  base,        // in every Debian 12 system, even debootstrap --variant=minbase: never installed
  linux,       // scripts/setup-debian.sh: the Linux build, its tests, the demo
  windows,     // scripts/windows/setup-cross.sh: the Windows cross-build and its tests under Wine
  if_present,  // installed by nobody: a script uses it only where it is present and says what to do otherwise
};

struct PackageEntry {
  std::string package;                // e.g. "tpm2-tools"
  std::string suite;                  // "" or e.g. "bookworm-backports" (written "catch2/bookworm-backports")
  PackageSet set = PackageSet::linux;
  std::vector<std::string> programs;  // the programs run from it by name; empty for a library
  int line = 0;
};

class PackageList {
 public:
  // Parses the file's text; throws std::runtime_error naming the line of a malformed entry.
  static PackageList parse(std::string_view text);
  static const PackageList& load();  // scripts/debian-packages.txt of this source tree (read once, then cached)

  // The entry that lists `program`, if any.
  const PackageEntry* provider(std::string_view program) const;
  const std::vector<PackageEntry>& entries() const { return entries_; }

 private:
  std::vector<PackageEntry> entries_;
};

// The list's path, relative to the source tree, for messages that say which file to edit.
inline constexpr std::string_view package_list_path = "scripts/debian-packages.txt";
std::filesystem::path package_list_file();

// A program a shell text runs, with the line (1-based) it is named on.
struct ShellCommand {
  std::string name;
  int line = 0;
};

// A word of a shell command as the reader saw it: `literal` when it has no expansion ($…, `…`), so its
// text is what the shell passes on.
struct ShellWord {
  std::string text;
  bool literal = true;
};

// One command whose name is not a builtin, with its arguments: when the name is a function that runs its
// arguments (`start NAME LOG CMD…` ending in "$@"), the arguments name a program too.
struct FunctionCall {
  std::string name;
  std::vector<ShellWord> arguments;
  int line = 0;
};

struct ShellScan {
  std::vector<ShellCommand> commands;  // programs run by name: no builtins, keywords, functions the text
                                       // defines, variables, or paths of the source tree (/usr/bin/env
                                       // counts as env)
  std::vector<std::string> functions;  // functions the text defines
  // Functions that run their arguments as a command ("$@" after `shift N`): name -> N, the index of the
  // command among the arguments.
  std::map<std::string, std::size_t, std::less<>> runners;
  std::vector<std::string> sourced;    // the files `.`/`source` read, as written
  std::vector<FunctionCall> calls;
};

// Adds to scan.commands what the calls of `runners` (functions of this text or of a file it sources)
// run, e.g. swtpm for `start swtpm "$log" swtpm socket …`.
void add_commands_of_runners(ShellScan& scan, const std::map<std::string, std::size_t, std::less<>>& runners);

// Reads shell (POSIX sh and the bash the scripts use) the way the shell splits commands: pipelines,
// lists, $(…), `…`, subshells, if/while/for/case, [[ … ]], (( … )), redirections, here-documents
// (their bodies are data, not read), quotes, and programs that run another program (exec, nice, env,
// timeout, stdbuf, sudo, setpriv, runuser, flock, xargs, sh -c '…', …). Commands run through a
// variable ("$bin/edgeprovd", $CC) cannot be known and are left out. The calls of the text's own
// runner functions are resolved (add_commands_of_runners).
ShellScan scan_shell(std::string_view text);

// The programs a CMake file runs by name while CMake configures or builds: COMMAND …, find_program(…),
// and a toolchain's compilers and tools (set(CMAKE_C_COMPILER …), CMAKE_AR, …), with the ${VAR} of the
// file's own set(VAR value) replaced. What CMake runs by itself (the generator, the compilers it finds,
// pkg-config, CPack's makensis) is not written in the files: scripts/debian-packages.txt lists it by hand.
std::vector<ShellCommand> cmake_programs(std::string_view text);
// Whether a CMake variable names a program CMake runs (CMAKE_CXX_COMPILER, CMAKE_AR, …): also read in
// CMakePresets.json's cacheVariables.
bool cmake_names_a_tool(std::string_view variable);

// The programs an argv runs by name: argv[0] when it has no '/', what it runs in turn (timeout 2 stdbuf
// -o0 mosquitto_pub …), and the commands of an `sh -c SCRIPT`.
std::vector<ShellCommand> programs_of_argv(const std::vector<std::string>& argv);

// Why a test may not run `argv`: a message naming the first program that scripts/debian-packages.txt
// does not list for Linux (set base or linux) and which file to edit; std::nullopt when all are listed.
std::optional<std::string> unlisted_program(const std::vector<std::string>& argv, const PackageList& list);

}  // namespace edgeprov::test
