#include "tests/support/programs.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "tests/support/process.h"

namespace edgeprov::test {
namespace {

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool is_program_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-';
  });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// --- the package list ------------------------------------------------------------------------------------

std::optional<PackageSet> set_named(std::string_view name) {
  if (name == "base") return PackageSet::base;
  if (name == "linux") return PackageSet::linux;
  if (name == "windows") return PackageSet::windows;
  if (name == "if-present") return PackageSet::if_present;
  return std::nullopt;
}

}  // namespace

PackageList PackageList::parse(std::string_view text) {
  PackageList list;
  std::map<std::string, int, std::less<>> program_line, package_line;
  int number = 0;
  std::istringstream in{std::string(text)};
  std::string raw;
  while (std::getline(in, raw)) {
    ++number;
    std::string_view line = raw;
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = trim(line);
    if (line.empty()) continue;
    const auto fail = [&](const std::string& what) {
      throw std::runtime_error(std::string(package_list_path) + ":" + std::to_string(number) + ": " + what +
                               " (a line is: PACKAGE[/SUITE] base|linux|windows|if-present PROGRAM… or -)");
    };
    std::istringstream fields{std::string(line)};
    std::string package, set, program;
    fields >> package >> set;
    PackageEntry entry;
    entry.line = number;
    const auto slash = package.find('/');
    entry.package = package.substr(0, slash);
    if (slash != std::string::npos) entry.suite = package.substr(slash + 1);
    if (!is_program_name(entry.package)) fail("'" + package + "' is not a Debian package name");
    const auto named = set_named(set);
    if (!named) fail("'" + set + "' is not a set-up");
    entry.set = *named;
    bool none = false;
    while (fields >> program) {
      if (program == "-") {
        none = true;
        continue;
      }
      if (!is_program_name(program)) fail("'" + program + "' is not a program name");
      if (const auto [at, fresh] = program_line.emplace(program, number); !fresh)
        fail("'" + program + "' is listed already, on line " + std::to_string(at->second));
      entry.programs.push_back(program);
    }
    if (entry.programs.empty() && !none) fail("no programs: write - for a package whose programs nothing runs");
    if (const auto [at, fresh] = package_line.emplace(entry.package, number); !fresh)
      fail("package " + entry.package + " is listed already, on line " + std::to_string(at->second));
    list.entries_.push_back(std::move(entry));
  }
  return list;
}

std::filesystem::path package_list_file() { return source_dir() / package_list_path; }

const PackageList& PackageList::load() {
  static std::once_flag once;
  static PackageList list;
  std::call_once(once, [] {
    const auto file = package_list_file();
    if (!std::filesystem::exists(file)) throw std::runtime_error("the package list " + file.string() + " is missing");
    list = parse(read_file(file));
  });
  return list;
}

const PackageEntry* PackageList::provider(std::string_view program) const {
  for (const auto& entry : entries_)
    if (std::find(entry.programs.begin(), entry.programs.end(), program) != entry.programs.end()) return &entry;
  return nullptr;
}

// --- reading shell ---------------------------------------------------------------------------------------

namespace {

const std::set<std::string_view> builtins = {
    ":",      ".",       "[",       "alias",    "bg",       "bind",     "break",    "builtin", "caller",
    "cd",     "command", "compgen", "complete", "compopt",  "continue", "declare",  "dirs",    "disown",
    "echo",   "enable",  "eval",    "exec",     "exit",     "export",   "false",    "fc",      "fg",
    "getopts", "hash",   "help",    "history",  "jobs",     "kill",     "let",      "local",   "logout",
    "mapfile", "popd",   "printf",  "pushd",    "pwd",      "read",     "readarray", "readonly", "return",
    "set",    "shift",   "shopt",   "source",   "suspend",  "test",     "times",    "trap",    "true",
    "type",   "typeset", "ulimit",  "umask",    "unalias",  "unset",    "wait"};

// Reserved words after which a command may follow on the same line.
const std::set<std::string_view> leading_keywords = {"if", "then", "elif", "else", "fi",   "while", "until",
                                                      "do", "done", "!",    "{",    "}",    "coproc"};

// Programs that run the command that follows their options (and operands), e.g. `nice -n 10 cmake …`.
struct Wrapper {
  std::set<std::string_view> options_with_argument;
  int operands = 0;                         // words between the options and the command
  std::set<std::string_view> script_options;  // the option whose argument is a shell script
};

const std::map<std::string_view, Wrapper, std::less<>> wrappers = {
    {"exec", {{"-a"}}},
    {"command", {}},
    {"builtin", {}},
    {"time", {}},
    {"nice", {{"-n", "--adjustment"}}},
    {"ionice", {{"-c", "-n", "-p", "-P", "-u", "--class", "--classdata", "--pid", "--pgid", "--uid"}}},
    {"nohup", {}},
    {"setsid", {}},
    {"env", {{"-u", "--unset", "-C", "--chdir", "-S", "--split-string"}}},
    {"timeout", {{"-s", "--signal", "-k", "--kill-after"}, 1}},
    {"stdbuf", {{"-i", "-o", "-e", "--input", "--output", "--error"}}},
    {"sudo", {{"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group", "--chdir"}}},
    {"setpriv",
     {{"--reuid", "--regid", "--ruid", "--rgid", "--euid", "--egid", "--groups", "--inh-caps", "--ambient-caps",
       "--bounding-set", "--securebits", "--pdeathsig", "--selinux-label", "--apparmor-profile"}}},
    {"runuser",
     {{"-u", "--user", "-g", "--group", "-G", "--supp-group", "-s", "--shell", "-w", "--whitelist-environment"},
      0,
      {"-c", "--command"}}},
    {"su", {{"-g", "--group", "-G", "--supp-group", "-s", "--shell", "-w"}, 1000, {"-c", "--command"}}},
    {"flock", {{"-w", "--timeout", "-E", "--conflict-exit-code"}, 1, {"-c", "--command"}}},
    {"chroot", {{"--userspec", "--groups"}, 1}},
    {"xargs",
     {{"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter", "--max-args", "--max-procs",
       "--max-chars"}}},
};

bool is_shell(std::string_view name) { return name == "sh" || name == "bash" || name == "dash"; }

// A program named by its absolute path in a system directory counts by its name (/usr/bin/env is env);
// any other path is a file of the source tree or the build.
std::optional<std::string> program_of_path(const std::string& word) {
  for (std::string_view dir : {"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/"}) {
    if (word.rfind(dir, 0) == 0 && word.find('/', dir.size()) == std::string::npos && word.size() > dir.size())
      return word.substr(dir.size());
  }
  return std::nullopt;
}

struct Word {
  std::string text;      // quotes removed; an expansion is kept as written
  std::string raw;       // as written
  bool literal = true;   // no expansion ($…, `…`): the text is what the shell sees
  bool quoted = false;
  bool fd_prefix = false;  // the "2" of 2>&1
  int line = 0;
};

// NAME=…, NAME+=…, NAME[…]=… as written.
bool is_assignment(std::string_view r) {
  if (r.empty() || !(std::isalpha(static_cast<unsigned char>(r[0])) || r[0] == '_')) return false;
  std::size_t i = 0;
  while (i < r.size() && is_name_char(r[i])) ++i;
  if (i < r.size() && r[i] == '[') {
    i = r.find(']', i);
    if (i == std::string_view::npos) return false;
    ++i;
  }
  if (i < r.size() && r[i] == '+') ++i;
  return i < r.size() && r[i] == '=';
}

class Scanner {
 public:
  Scanner(std::string_view text, int first_line, ShellScan& out) : s_(text), line_(first_line), out_(out) {}

  void scan() { parse_list('\0'); }

  // The commands of one simple command given as words (an argv).
  void command(std::vector<Word> words) { run_command(words, 0); }

 private:
  struct Heredoc {
    std::string delimiter;
    bool strip_tabs = false;
  };

  std::string_view s_;
  std::size_t i_ = 0;
  int line_;
  ShellScan& out_;
  std::vector<Heredoc> heredocs_;
  int case_depth_ = 0;
  bool pattern_next_ = false;
  // Function bodies: the function being defined (until its '{'), the open braces, and for each open body
  // its name, the brace depth it opened at and the arguments shifted away so far.
  struct Body {
    std::string name;
    int depth = 0;
    std::size_t shifted = 0;
  };
  std::string defining_;
  int braces_ = 0;
  std::vector<Body> bodies_;

  void define(std::string name) {
    out_.functions.push_back(name);
    defining_ = std::move(name);
  }

  bool at_end() const { return i_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }
  char get() {
    if (at_end()) return '\0';
    const char c = s_[i_++];
    if (c == '\n') ++line_;
    return c;
  }
  bool word_ahead(std::string_view word) const {
    if (s_.substr(i_, word.size()) != word) return false;
    const char after = peek(word.size());
    return after == '\0' || std::isspace(static_cast<unsigned char>(after)) || after == ';' || after == ')';
  }

  void subscan(const Word& script) {
    Scanner inner(script.text, script.line, out_);
    inner.scan();
  }

  // A list of commands up to `end`: '\0' (the end of the text) or ')' ($(…), subshells).
  void parse_list(char end) {
    std::vector<Word> words;
    bool test_expression = false;  // inside [[ … ]]: && || ( ) < > are part of the test
    const auto flush = [&] {
      if (!words.empty()) evaluate(words);
      words.clear();
      test_expression = false;
    };
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\r') {
        get();
        continue;
      }
      if (c == '\\' && peek(1) == '\n') {
        get(), get();
        continue;
      }
      if (end != '\0' && c == end && !test_expression) {
        get();
        flush();
        return;
      }
      if (c == '\n') {
        get();
        flush();
        read_heredoc_bodies();
        continue;
      }
      if (c == '#') {  // at the start of a word: a comment
        while (!at_end() && peek() != '\n') get();
        continue;
      }
      if (pattern_next_ && case_depth_ > 0 && words.empty()) {
        if (word_ahead("esac")) {
          i_ += 4;
          --case_depth_;
          pattern_next_ = false;
        } else {
          skip_pattern();
          pattern_next_ = false;
        }
        continue;
      }
      if (!test_expression) {
        if (c == ';') {
          get();
          bool case_item_end = false;
          if (peek() == ';') get(), case_item_end = true;
          if (peek() == '&') get(), case_item_end = true;
          flush();
          if (case_item_end && case_depth_ > 0) pattern_next_ = true;
          continue;
        }
        if (c == '&' && peek(1) == '>') {
          read_redirection();
          continue;
        }
        if (c == '&' || c == '|') {
          get();
          if (peek() == '&' || peek() == '|') get();
          flush();
          continue;
        }
        if (c == '(') {
          get();
          if (peek() == '(') {  // (( … )), for (( … ))
            get();
            skip_arithmetic();
            continue;
          }
          std::size_t j = i_;
          while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t')) ++j;
          if (words.size() == 1 && j < s_.size() && s_[j] == ')') {  // name() { … }
            i_ = j + 1;
            define(words.front().text);
            words.clear();
            continue;
          }
          flush();
          parse_list(')');
          continue;
        }
        if (c == ')') {
          get();
          flush();
          continue;
        }
        if (c == '<' || c == '>') {
          read_redirection();
          continue;
        }
      }
      Word w = read_word(test_expression);
      if (w.fd_prefix) continue;
      if (w.raw.empty()) {  // a character no word may start with: step over it
        get();
        continue;
      }
      if (!w.quoted && w.literal) {
        if (!test_expression && w.text == "[[") test_expression = true;
        else if (test_expression && w.text == "]]") test_expression = false;
      }
      words.push_back(std::move(w));
      if (words.size() == 3 && words[0].raw == "case" && words[2].raw == "in") flush();
    }
    flush();
  }

  void skip_pattern() {  // a case item's pattern up to its ')': `"")`, `-h|--help)`, `*)`, `(a|b)`
    if (peek() == '(') get();
    while (!at_end()) {
      const char c = get();
      if (c == '\\') {
        get();
      } else if (c == '\'') {
        while (!at_end() && get() != '\'') {
        }
      } else if (c == '"') {
        Word ignored;
        read_double_quoted(ignored);
      } else if (c == ')') {
        return;
      }
    }
  }

  void read_heredoc_bodies() {
    for (const auto& doc : heredocs_) {
      while (!at_end()) {
        const std::size_t eol = s_.find('\n', i_);
        std::string_view line = s_.substr(i_, eol == std::string_view::npos ? std::string_view::npos : eol - i_);
        i_ = eol == std::string_view::npos ? s_.size() : eol + 1;
        ++line_;
        if (doc.strip_tabs)
          while (!line.empty() && line.front() == '\t') line.remove_prefix(1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line == doc.delimiter) break;
      }
    }
    heredocs_.clear();
  }

  void read_redirection() {
    std::string op;
    if (peek() == '&') {
      get(), get();  // &>
      op = "&>";
      if (peek() == '>') get();
    } else if (peek() == '<') {
      get();
      op = "<";
      if (peek() == '<') {
        get();
        op = "<<";
        if (peek() == '<') get(), op = "<<<";
        else if (peek() == '-') get(), op = "<<-";
      } else if (peek() == '>' || peek() == '&') {
        get();
      } else if (peek() == '(') {  // <( … )
        get();
        parse_list(')');
        return;
      }
    } else {
      get();
      op = ">";
      if (peek() == '(') {  // >( … )
        get();
        parse_list(')');
        return;
      }
      if (peek() == '>' || peek() == '&' || peek() == '|') get();
    }
    while (peek() == ' ' || peek() == '\t') get();
    const Word target = read_word(false);
    if (op == "<<" || op == "<<-") heredocs_.push_back({target.text, op == "<<-"});
  }

  Word read_word(bool in_test) {
    Word w;
    w.line = line_;
    const std::size_t start = i_;
    const auto ends_word = [&](char c) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return true;
      return !in_test && (c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '<' || c == '>');
    };
    while (!at_end()) {
      const char c = peek();
      if (c == '(' && !in_test && i_ > start && s_[i_ - 1] == '=' && is_assignment(s_.substr(start, i_ - start))) {
        get();
        read_array();
        w.literal = false;
        continue;
      }
      if (ends_word(c)) break;
      if (c == '\\') {
        get();
        if (peek() == '\n') {
          get();
          continue;
        }
        w.quoted = true;
        w.text += get();
      } else if (c == '\'') {
        get();
        w.quoted = true;
        while (!at_end() && peek() != '\'') w.text += get();
        get();
      } else if (c == '"') {
        get();
        w.quoted = true;
        read_double_quoted(w);
      } else if (c == '$') {
        read_dollar(w, false);
      } else if (c == '`') {
        read_backticks(w);
      } else {
        w.text += get();
      }
    }
    w.raw = std::string(s_.substr(start, i_ - start));
    if (!w.quoted && w.literal && !w.text.empty() && (peek() == '<' || peek() == '>') &&
        std::all_of(w.text.begin(), w.text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      w.fd_prefix = true;
    return w;
  }

  void read_array() {  // after name=( : the words up to ')'; their substitutions still run
    while (!at_end()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        get();
        continue;
      }
      if (c == '#') {
        while (!at_end() && peek() != '\n') get();
        continue;
      }
      if (c == ')') {
        get();
        return;
      }
      const Word ignored = read_word(false);
      if (ignored.raw.empty()) get();
    }
  }

  void read_double_quoted(Word& w) {  // after the opening quote
    while (!at_end()) {
      const char c = peek();
      if (c == '"') {
        get();
        return;
      }
      if (c == '\\') {
        get();
        w.text += get();
      } else if (c == '$') {
        read_dollar(w, true);
      } else if (c == '`') {
        read_backticks(w);
      } else {
        w.text += get();
      }
    }
  }

  void read_dollar(Word& w, bool in_double_quotes) {
    const std::size_t start = i_;
    get();
    const char c = peek();
    if (c == '(') {
      get();
      if (peek() == '(') {
        get();
        skip_arithmetic();
      } else {
        parse_list(')');
      }
      w.literal = false;
    } else if (c == '{') {
      get();
      skip_parameter(in_double_quotes);
      w.literal = false;
    } else if (c == '\'' && !in_double_quotes) {  // $'…'
      get();
      while (!at_end() && peek() != '\'') {
        if (peek() == '\\') get();
        get();
      }
      get();
      w.quoted = true;
      w.literal = false;
    } else if (is_name_char(c)) {
      while (is_name_char(peek())) get();
      w.literal = false;
    } else if (c != '\0' && std::string_view("@*#?$!-").find(c) != std::string_view::npos) {
      get();
      w.literal = false;
    }
    w.text += s_.substr(start, i_ - start);
  }

  void skip_parameter(bool in_double_quotes) {  // after ${ : up to the matching }
    int depth = 1;
    while (!at_end()) {
      const char c = peek();
      if (c == '\\') {
        get(), get();
      } else if (c == '\'' && !in_double_quotes) {
        get();
        while (!at_end() && get() != '\'') {
        }
      } else if (c == '"') {
        get();
        Word ignored;
        read_double_quoted(ignored);
      } else if (c == '$') {
        Word ignored;
        read_dollar(ignored, in_double_quotes);
      } else if (c == '`') {
        Word ignored;
        read_backticks(ignored);
      } else {
        get();
        if (c == '{') ++depth;
        if (c == '}' && --depth == 0) return;
      }
    }
  }

  void skip_arithmetic() {  // after (( or $(( : up to the matching ))
    int depth = 0;
    while (!at_end()) {
      const char c = peek();
      if (c == '$') {
        Word ignored;
        read_dollar(ignored, true);
        continue;
      }
      get();
      if (c == '(') ++depth;
      if (c == ')') {
        if (depth == 0) {
          if (peek() == ')') get();
          return;
        }
        --depth;
      }
    }
  }

  void read_backticks(Word& w) {
    const int line = line_;
    get();
    std::string inner;
    while (!at_end() && peek() != '`') {
      if (peek() == '\\' && (peek(1) == '`' || peek(1) == '\\' || peek(1) == '$')) get();
      inner += get();
    }
    get();
    w.literal = false;
    w.text += "`" + inner + "`";
    Scanner nested(inner, line, out_);
    nested.scan();
  }

  void evaluate(const std::vector<Word>& words) {
    std::size_t k = 0;
    while (k < words.size()) {
      const Word& w = words[k];
      if (w.quoted || !w.literal) break;
      const std::string& t = w.text;
      if (t == "[[") {  // a test: its words are operands
        while (k < words.size() && !(words[k].text == "]]" && !words[k].quoted)) ++k;
        ++k;
        continue;
      }
      if (t == "esac") {
        if (case_depth_ > 0) --case_depth_;
        pattern_next_ = false;
        ++k;
        continue;
      }
      if (t == "case") {
        ++case_depth_;
        pattern_next_ = true;
        return;
      }
      if (t == "for" || t == "select") return;  // the loop's variable and words
      if (t == "function") {  // function NAME { …: the body may start on this line
        if (k + 1 < words.size()) {
          std::string name = words[k + 1].text;
          if (name.size() > 2 && name.ends_with("()")) name.resize(name.size() - 2);
          define(name);
        }
        k += 2;
        continue;
      }
      if (!leading_keywords.count(t)) break;
      if (t == "{") {
        ++braces_;
        if (!defining_.empty()) bodies_.push_back({std::exchange(defining_, {}), braces_});
      } else if (t == "}") {
        if (!bodies_.empty() && bodies_.back().depth == braces_) bodies_.pop_back();
        --braces_;
      }
      ++k;
    }
    while (k < words.size() && is_assignment(words[k].raw)) ++k;
    if (k < words.size()) run_command(words, k);
  }

  void run_command(const std::vector<Word>& words, std::size_t k) {
    const Word& w = words[k];
    if (!w.literal) {  // "$@", $CC, "$bin/edgeprovd": not known here
      if ((w.raw == "\"$@\"" || w.raw == "$@" || w.raw == "\"${@}\"") && !bodies_.empty())
        out_.runners.emplace(bodies_.back().name, bodies_.back().shifted);
      return;
    }
    if (w.text.empty() || w.text[0] == '-') return;
    std::string name = w.text;
    if (name.find('/') != std::string::npos) {
      const auto program = program_of_path(name);
      if (!program) return;
      name = *program;
    }
    if (name == "." || name == "source") {
      if (k + 1 < words.size()) out_.sourced.push_back(words[k + 1].text);
      return;
    }
    if (name == "shift" && !bodies_.empty()) {
      std::size_t n = 1;
      if (k + 1 < words.size() && words[k + 1].literal && !words[k + 1].text.empty() &&
          std::all_of(words[k + 1].text.begin(), words[k + 1].text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
        n = std::stoul(words[k + 1].text);
      bodies_.back().shifted += n;
      return;
    }
    if (name == "trap") {  // trap 'commands' SIGNAL…
      if (k + 1 < words.size() && words[k + 1].literal) subscan(words[k + 1]);
      return;
    }
    if (!builtins.count(name) && name != "time") {
      out_.commands.push_back({name, w.line});
      FunctionCall call{name, {}, w.line};
      for (std::size_t j = k + 1; j < words.size(); ++j) call.arguments.push_back({words[j].text, words[j].literal});
      out_.calls.push_back(std::move(call));
    }
    if (is_shell(name)) {
      run_shell(words, k + 1);
      return;
    }
    const auto wrapper = wrappers.find(name);
    if (wrapper == wrappers.end()) return;
    std::size_t j = k + 1;
    while (j < words.size()) {
      const Word& option = words[j];
      if (!option.literal) return;  // the command is a variable
      if (option.text == "--") {
        ++j;
        break;
      }
      if (option.text.size() > 1 && option.text[0] == '-') {
        if (name == "command" && (option.text == "-v" || option.text == "-V")) return;  // a look-up, not a run
        if (wrapper->second.script_options.count(option.text)) {
          if (j + 1 < words.size() && words[j + 1].literal) subscan(words[j + 1]);
          return;
        }
        if (wrapper->second.options_with_argument.count(option.text)) ++j;
        ++j;
        continue;
      }
      if (name == "env" && is_assignment(option.raw)) {
        ++j;
        continue;
      }
      break;
    }
    j += static_cast<std::size_t>(wrapper->second.operands);
    if (j < words.size()) run_command(words, j);
  }

  // sh/bash OPTIONS -c SCRIPT: the script's commands; sh FILE runs a file of the source tree.
  void run_shell(const std::vector<Word>& words, std::size_t j) {
    bool script = false;
    for (; j < words.size(); ++j) {
      const std::string& t = words[j].text;
      if (t == "--") {
        ++j;
        break;
      }
      if (t.size() < 2 || (t[0] != '-' && t[0] != '+')) break;
      if (t[1] == '-') continue;  // --norc, --posix, …
      if (t.find('c') != std::string::npos) script = true;
      if (t.back() == 'o') ++j;  // -o NAME, -euo NAME
    }
    if (script && j < words.size() && words[j].literal) subscan(words[j]);
  }
};

}  // namespace

namespace {

// A function the text defines is not a program, wherever it is called from (also inside `sh -c SCRIPT`).
void drop_functions(ShellScan& scan) {
  const std::set<std::string> functions(scan.functions.begin(), scan.functions.end());
  std::erase_if(scan.commands, [&](const ShellCommand& c) { return functions.count(c.name) > 0; });
}

// The programs a command given as words runs (an argv, or what a runner function is passed).
std::vector<ShellCommand> programs_of_words(const std::vector<ShellWord>& words, int line) {
  ShellScan out;
  std::vector<Word> command;
  for (const auto& w : words) command.push_back(Word{.text = w.text, .raw = w.text, .literal = w.literal, .line = line});
  Scanner({}, line, out).command(std::move(command));
  drop_functions(out);
  return out.commands;
}

}  // namespace

void add_commands_of_runners(ShellScan& scan, const std::map<std::string, std::size_t, std::less<>>& runners) {
  for (const auto& call : scan.calls) {
    const auto runner = runners.find(call.name);
    if (runner == runners.end() || runner->second >= call.arguments.size()) continue;
    const std::vector<ShellWord> command(call.arguments.begin() + static_cast<std::ptrdiff_t>(runner->second), call.arguments.end());
    for (auto& program : programs_of_words(command, call.line)) scan.commands.push_back(std::move(program));
  }
}

ShellScan scan_shell(std::string_view text) {
  ShellScan out;
  Scanner(text, 1, out).scan();
  drop_functions(out);
  add_commands_of_runners(out, out.runners);
  return out;
}

std::vector<ShellCommand> programs_of_argv(const std::vector<std::string>& argv) {
  std::vector<ShellWord> words;
  for (const auto& a : argv) words.push_back({a, true});
  return programs_of_words(words, 1);
}

// --- reading CMake --------------------------------------------------------------------------------------

namespace {

struct CmakeToken {
  std::string text;
  bool quoted = false;
  int line = 0;
};

// Arguments, parentheses as tokens of their own; comments and bracket arguments ([=[ … ]=]) left out.
std::vector<CmakeToken> cmake_tokens(std::string_view s) {
  std::vector<CmakeToken> tokens;
  int line = 1;
  std::size_t i = 0;
  const auto bracket_end = [&](std::size_t at) -> std::optional<std::string> {  // "[==[" at `at` -> "]==]"
    std::size_t j = at + 1;
    while (j < s.size() && s[j] == '=') ++j;
    if (j < s.size() && s[j] == '[') return "]" + std::string(j - at - 1, '=') + "]";
    return std::nullopt;
  };
  const auto skip_to = [&](const std::string& close) {
    const std::size_t end = s.find(close, i);
    const std::size_t stop = end == std::string_view::npos ? s.size() : end + close.size();
    line += static_cast<int>(std::count(s.begin() + static_cast<std::ptrdiff_t>(i), s.begin() + static_cast<std::ptrdiff_t>(stop), '\n'));
    i = stop;
  };
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\n') {
      ++line, ++i;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '#') {
      if (i + 1 < s.size() && s[i + 1] == '[') {
        if (const auto close = bracket_end(i + 1)) {
          skip_to(*close);
          continue;
        }
      }
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (c == '(' || c == ')') {
      tokens.push_back({std::string(1, c), false, line});
      ++i;
    } else if (c == '[' && bracket_end(i)) {
      skip_to(*bracket_end(i));
    } else if (c == '"') {
      CmakeToken t{"", true, line};
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] == '\n') ++line;
        t.text += s[i++];
      }
      ++i;
      tokens.push_back(std::move(t));
    } else {
      CmakeToken t{"", false, line};
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])) && s[i] != '(' && s[i] != ')' && s[i] != '"' &&
             s[i] != '#')
        t.text += s[i++];
      tokens.push_back(std::move(t));
    }
  }
  return tokens;
}

}  // namespace

bool cmake_names_a_tool(std::string_view variable) {
  return (variable.starts_with("CMAKE_") && (variable.ends_with("_COMPILER") || variable.ends_with("_COMPILER_LAUNCHER"))) ||
         variable == "CMAKE_AR" || variable == "CMAKE_RANLIB" || variable == "CMAKE_STRIP" || variable == "CMAKE_LINKER" ||
         variable == "CMAKE_MAKE_PROGRAM" || variable == "CMAKE_OBJCOPY" || variable == "CMAKE_NM";
}

std::vector<ShellCommand> cmake_programs(std::string_view text) {
  const auto tokens = cmake_tokens(text);
  std::map<std::string, std::string, std::less<>> variables;  // the file's own set(NAME value)
  const auto expand = [&](std::string value) {
    for (std::size_t at; (at = value.find("${")) != std::string::npos;) {
      const std::size_t end = value.find('}', at);
      if (end == std::string::npos) break;
      const auto known = variables.find(std::string_view(value).substr(at + 2, end - at - 2));
      if (known == variables.end()) break;
      value.replace(at, end - at + 1, known->second);
    }
    return value;
  };
  std::vector<ShellCommand> programs;
  const auto add = [&](const CmakeToken& token) {
    const std::string value = expand(token.text);
    if (value.find("${") != std::string::npos || value.find("$<") != std::string::npos) return;  // not known here
    if (value.find('/') != std::string::npos) {
      if (const auto program = program_of_path(value)) programs.push_back({*program, token.line});
      return;  // a file of the source tree or the build
    }
    if (is_program_name(value)) programs.push_back({value, token.line});
  };
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    const auto& t = tokens[k];
    if (t.quoted) continue;
    const bool call = k + 1 < tokens.size() && tokens[k + 1].text == "(" && !tokens[k + 1].quoted;
    if (t.text == "COMMAND" && k + 1 < tokens.size() && tokens[k + 1].text != ")") {
      add(tokens[k + 1]);
    } else if (call && (t.text == "set" || t.text == "SET") && k + 3 < tokens.size() && tokens[k + 3].text != ")") {
      const std::string& variable = tokens[k + 2].text;
      variables[variable] = expand(tokens[k + 3].text);
      if (cmake_names_a_tool(variable)) add(tokens[k + 3]);
    } else if (call && t.text == "find_program" && k + 3 < tokens.size()) {
      std::size_t j = k + 3;  // after the result variable
      if (tokens[j].text == "NAMES") {
        for (++j; j < tokens.size() && tokens[j].text != ")"; ++j) {
          const std::string& name = tokens[j].text;
          if (!tokens[j].quoted && std::all_of(name.begin(), name.end(), [](char c) { return std::isupper(static_cast<unsigned char>(c)) || c == '_'; }))
            break;  // HINTS, PATHS, DOC, REQUIRED, …
          add(tokens[j]);
        }
      } else if (tokens[j].text != ")") {
        add(tokens[j]);
      }
    }
  }
  return programs;
}

std::optional<std::string> unlisted_program(const std::vector<std::string>& argv, const PackageList& list) {
  for (const auto& program : programs_of_argv(argv)) {
    const PackageEntry* entry = list.provider(program.name);
    if (entry && (entry->set == PackageSet::base || entry->set == PackageSet::linux)) continue;
    std::string command;
    for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
    if (command.size() > 120) command = command.substr(0, 117) + "...";
    std::string why = "the test runs `" + program.name + "` (command: " + command + "), ";
    if (entry)
      why += "which " + std::string(package_list_path) + ":" + std::to_string(entry->line) + " lists only for " +
             (entry->set == PackageSet::windows ? "the Windows set-up" : "use where present") +
             ": the Linux tests may run only programs of the base and linux sets";
    else
      why += "which " + std::string(package_list_path) +
             " does not list: add it to the line of the Debian package that provides it, or a new line "
             "`PACKAGE  linux  " + program.name + "` (dpkg -S $(command -v " + program.name +
             ") names the package), so that scripts/setup-debian.sh installs it on a fresh machine";
    return why;
  }
  return std::nullopt;
}

}  // namespace edgeprov::test
