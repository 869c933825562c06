// RFC 1035 master file loader: directives, relative names, parentheses, comments, quotes.
// TTL of a record without one: $TTL if set, else the last explicit TTL in the file (RFC 1035
// 5.1), else an error naming the line: no silent default.
#include "zone/master_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "dns/period.h"
#include "dns/rdata_text.h"
#include "dns/types.h"

namespace meridian::zone {

namespace {

constexpr int kMaxIncludeDepth = 8;
// An included file is read whole; larger ones (or a device such as /dev/zero) are refused.
constexpr size_t kMaxIncludeBytes = 256u << 20;
// What an error about one line may quote of it: a file included by mistake must not come back
// whole inside error messages.
constexpr size_t kMaxErrorText = 120;

// Which files $INCLUDE may read: none for zone text from the control API; for a zone file,
// regular files below that file's directory (`root`, resolved, ending in '/').
struct IncludeRule {
  bool allowed = false;
  std::string root;
};

Error cut_short(Error e) {
  std::string& what = e.what;
  for (char& c : what) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f) c = '?';
  }
  if (what.size() > kMaxErrorText) what = what.substr(0, kMaxErrorText) + "...";
  return e;
}

// Reads an included file under `rule`; errors name the path as written and why, never content.
Result<std::string> read_included(const std::string& path, const IncludeRule& rule) {
  if (!rule.allowed) {
    return make_error(
        "$INCLUDE is not accepted in zone text sent to the control API (it would read files on "
        "the server); put the records in the text itself");
  }
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return make_error("cannot read included file " + path + ": " + std::strerror(errno));
  }
  if (std::string_view(resolved).substr(0, rule.root.size()) != rule.root) {
    return make_error("included file " + path + " is not below the zone file's directory " +
                      rule.root);
  }
  const int fd = ::open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return make_error("cannot read included file " + path + ": " + std::strerror(errno));
  struct stat st {};
  std::string text;
  std::string problem;
  if (::fstat(fd, &st) != 0) {
    problem = std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    problem = "not a regular file";
  } else if (static_cast<uint64_t>(st.st_size) > kMaxIncludeBytes) {
    problem = "larger than " + std::to_string(kMaxIncludeBytes >> 20) + " MiB";
  } else {
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    text.resize(got);  // a file that shrank while read is read as it was
  }
  ::close(fd);
  if (!problem.empty()) return make_error("cannot read included file " + path + ": " + problem);
  return text;
}

struct Token {
  std::string text;
  size_t begin = 0;  // offset in the logical line (for taking the raw RDATA text)
};

// A logical entry: one record or directive, possibly spanning lines in parentheses.
struct Entry {
  std::string text;          // comments and parentheses removed
  size_t line = 0;           // first physical line
  bool blank_owner = false;  // started with white space: same owner as the previous record
};

std::string where(std::string_view source, size_t line) {
  return std::string(source) + ":" + std::to_string(line);
}

Result<std::vector<Entry>> split_entries(std::string_view text, std::string_view source) {
  std::vector<Entry> entries;
  Entry cur;
  int depth = 0;
  bool in_quote = false;
  size_t line = 1;
  bool at_line_start = true;
  bool have = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (at_line_start && depth == 0) {
      cur = Entry{};
      cur.line = line;
      cur.blank_owner = (c == ' ' || c == '\t');
      have = true;
      at_line_start = false;
    }
    if (in_quote) {
      if (c == '\\' && i + 1 < text.size()) {
        cur.text.push_back(c);
        cur.text.push_back(text[++i]);
        continue;
      }
      if (c == '\n') return make_error("newline inside a quoted string", where(source, line));
      if (c == '"') in_quote = false;
      cur.text.push_back(c);
      continue;
    }
    switch (c) {
      case '\\':
        cur.text.push_back(c);
        if (i + 1 < text.size()) cur.text.push_back(text[++i]);
        break;
      case '"':
        in_quote = true;
        cur.text.push_back(c);
        break;
      case ';':
        while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
        break;
      case '(':
        ++depth;
        cur.text.push_back(' ');
        break;
      case ')':
        if (depth == 0) return make_error("')' without '('", where(source, line));
        --depth;
        cur.text.push_back(' ');
        break;
      case '\n':
        ++line;
        if (depth == 0) {
          if (have) entries.push_back(cur);
          have = false;
          at_line_start = true;
        } else {
          cur.text.push_back(' ');
        }
        break;
      case '\r':
        break;
      default:
        cur.text.push_back(c);
    }
  }
  if (in_quote) return make_error("unterminated quoted string", where(source, cur.line));
  if (depth != 0) return make_error("'(' is never closed", where(source, cur.line));
  if (have) entries.push_back(cur);
  return entries;
}

std::vector<Token> tokenize(const std::string& text) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i >= text.size()) break;
    Token t;
    t.begin = i;
    bool quote = false;
    while (i < text.size() && (quote || !std::isspace(static_cast<unsigned char>(text[i])))) {
      if (text[i] == '\\' && i + 1 < text.size()) {
        t.text.push_back(text[i++]);
      } else if (text[i] == '"') {
        quote = !quote;
      }
      t.text.push_back(text[i++]);
    }
    out.push_back(std::move(t));
  }
  return out;
}

// A record or $TTL TTL: starts with a digit (so it cannot be a type or class), at most 2^31-1
// (RFC 2181 8).
std::optional<uint32_t> parse_ttl(std::string_view s) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))) return std::nullopt;
  uint32_t seconds = 0;
  if (dns::parse_period_seconds(s, /*unit_needs_number=*/false, &seconds) != dns::PeriodStatus::kOk)
    return std::nullopt;
  if (seconds > 0x7fffffffu) return std::nullopt;
  return seconds;
}

class MasterFileParser {
 public:
  MasterFileParser(Zone& zone, const dns::Name& origin, IncludeRule include)
      : zone_(zone), origin_(origin), include_(std::move(include)) {}

  Status parse(std::string_view text, std::string_view source, const std::string& dir, int depth) {
    auto entries = split_entries(text, source);
    if (!entries) return entries.error();
    for (const Entry& e : entries.value()) {
      auto tokens = tokenize(e.text);
      if (tokens.empty()) continue;
      const std::string loc = where(source, e.line);
      if (tokens[0].text[0] == '$' && !e.blank_owner) {
        if (auto s = directive(tokens, loc, dir, depth); !s) return cut_short(s.error());
        continue;
      }
      if (auto s = record(e, tokens, loc); !s) return cut_short(s.error());
    }
    return Ok{};
  }

 private:
  Status directive(const std::vector<Token>& t, const std::string& loc, const std::string& dir,
                   int depth) {
    const std::string& d = t[0].text;
    if (d == "$ORIGIN") {
      if (t.size() != 2) return make_error("$ORIGIN needs exactly one name", loc);
      auto n = dns::Name::from_text(t[1].text, &origin_);
      if (!n) return make_error("bad $ORIGIN: " + n.error().what, loc);
      origin_ = *n;
      return Ok{};
    }
    if (d == "$TTL") {
      if (t.size() != 2) return make_error("$TTL needs exactly one value", loc);
      auto ttl = parse_ttl(t[1].text);
      if (!ttl) return make_error("bad $TTL '" + t[1].text + "'", loc);
      default_ttl_ = *ttl;
      return Ok{};
    }
    if (d == "$INCLUDE") {
      if (t.size() < 2 || t.size() > 3)
        return make_error("$INCLUDE needs a file and an optional origin", loc);
      if (depth >= kMaxIncludeDepth) return make_error("$INCLUDE nested too deeply", loc);
      std::string path = t[1].text;
      if (!path.empty() && path[0] != '/') path = dir + path;
      auto included = read_included(path, include_);
      if (!included) return make_error(included.error().what, loc);
      const dns::Name saved_origin = origin_;
      if (t.size() == 3) {
        auto n = dns::Name::from_text(t[2].text, &origin_);
        if (!n) return make_error("bad $INCLUDE origin: " + n.error().what, loc);
        origin_ = *n;
      }
      const auto slash = path.find_last_of('/');
      const std::string sub_dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
      Status s = parse(*included, path, sub_dir, depth + 1);
      origin_ = saved_origin;  // RFC 1035: $INCLUDE does not change the including file's origin
      return s;
    }
    return make_error("unknown directive " + d, loc);
  }

  Status record(const Entry& e, const std::vector<Token>& t, const std::string& loc) {
    size_t i = 0;
    dns::Name owner;
    if (e.blank_owner) {
      if (!have_owner_)
        return make_error("record without an owner name and no previous owner", loc);
      owner = last_owner_;
    } else {
      auto n = dns::Name::from_text(t[0].text, &origin_);
      if (!n) return make_error("bad owner name '" + t[0].text + "': " + n.error().what, loc);
      owner = *n;
      i = 1;
    }
    std::optional<uint32_t> ttl;
    bool class_seen = false;
    for (int k = 0; k < 2 && i < t.size(); ++k) {
      if (!ttl) {
        if (auto v = parse_ttl(t[i].text)) {
          ttl = v;
          ++i;
          continue;
        }
      }
      if (!class_seen) {
        if (auto cls = dns::class_from_text(t[i].text)) {
          if (*cls != dns::rrclass::IN)
            return make_error("class " + t[i].text + " is not supported (only IN)", loc);
          class_seen = true;
          ++i;
          continue;
        }
      }
      break;
    }
    if (i >= t.size()) return make_error("record has no type", loc);
    auto type = dns::type_from_text(t[i].text);
    // A leading digit cannot start a type or class: it is a TTL that did not parse.
    if (!type && std::isdigit(static_cast<unsigned char>(t[i].text[0])))
      return make_error("bad TTL '" + t[i].text + "'", loc);
    if (!type) return make_error("unknown record type '" + t[i].text + "'", loc);
    ++i;
    const std::string rdata_text = i < t.size() ? e.text.substr(t[i].begin) : std::string();
    auto rdata = dns::rdata_from_text(*type, rdata_text, origin_);
    if (!rdata) return make_error(rdata.error().what, loc);

    if (ttl) {
      last_ttl_ = ttl;
    } else if (default_ttl_) {
      ttl = default_ttl_;
    } else if (last_ttl_) {
      ttl = last_ttl_;
    } else {
      return make_error("record has no TTL and no $TTL is set", loc);
    }
    last_owner_ = owner;
    have_owner_ = true;
    if (!owner.is_subdomain_of(zone_.origin()))
      return make_error(
          "owner " + owner.to_text() + " is outside the zone " + zone_.origin().to_text(), loc);

    // Records of one (owner, type) form one RRset: append to it.
    auto key = owner.key() + "/" + std::to_string(*type);
    std::string value(rdata->begin(), rdata->end());
    auto it = pending_.find(key);
    if (it == pending_.end()) {
      RecordSet rs;
      rs.name = owner;
      rs.type = *type;
      rs.ttl = *ttl;
      rs.rdatas.push_back(std::move(*rdata));
      order_.push_back(key);
      pending_.emplace(key, Pending{std::move(rs), loc, {std::move(value)}});
    } else {
      auto& rs = it->second.rs;
      // Duplicate record: one copy, as RFC 2181 5 says. A set, so large RRsets load in linear time.
      if (!it->second.values.insert(std::move(value)).second) return Ok{};
      // Caught here, not by Zone::validate(), so the error names this record's line.
      if (*type == dns::rrtype::SOA || *type == dns::rrtype::CNAME)
        return make_error(
            "only one " + dns::type_to_text(*type) + " record is allowed at " + owner.to_text(),
            loc);
      // RFC 2181 5.2: one TTL per RRset; the first wins (as Knot does), later ones are aligned.
      rs.rdatas.push_back(std::move(*rdata));
    }
    return Ok{};
  }

 public:
  Status finish() {
    for (const auto& key : order_) {
      auto& p = pending_.at(key);
      if (auto s = zone_.add(std::move(p.rs)); !s) return make_error(s.error().what, p.loc);
    }
    return zone_.validate();
  }

 private:
  struct Pending {
    RecordSet rs;
    std::string loc;
    std::unordered_set<std::string> values;  // the RDATAs in rs, for finding duplicates
  };
  Zone& zone_;
  dns::Name origin_;
  const IncludeRule include_;
  std::optional<uint32_t> default_ttl_;
  std::optional<uint32_t> last_ttl_;
  dns::Name last_owner_;
  bool have_owner_ = false;
  std::unordered_map<std::string, Pending> pending_;
  std::vector<std::string> order_;
};

}  // namespace

Result<Zone> parse_master_file(std::string_view text, const dns::Name& origin,
                               std::string_view source_name) {
  Zone zone(origin);
  MasterFileParser parser(zone, origin, IncludeRule{});  // text from a client reads no files
  if (auto s = parser.parse(text, source_name, "", 0); !s) return s.error();
  if (auto s = parser.finish(); !s) {
    Error e = s.error();
    if (e.where.empty()) e.where = std::string(source_name);
    return e;
  }
  return zone;
}

Result<Zone> load_master_file(const std::string& path, const dns::Name& origin) {
  std::ifstream in(path);
  if (!in) return make_error("cannot read zone file", path);
  std::stringstream ss;
  ss << in.rdbuf();
  Zone zone(origin);
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  IncludeRule include{true, {}};
  char root[PATH_MAX];
  if (::realpath(dir.empty() ? "." : dir.c_str(), root) == nullptr)
    return make_error(
        std::string("cannot resolve the zone file's directory: ") + std::strerror(errno), path);
  include.root = root;
  if (include.root.back() != '/') include.root += '/';
  MasterFileParser parser(zone, origin, std::move(include));
  if (auto s = parser.parse(ss.str(), path, dir, 0); !s) return s.error();
  if (auto s = parser.finish(); !s) {
    Error e = s.error();
    if (e.where.empty()) e.where = path;
    return e;
  }
  return zone;
}

}  // namespace meridian::zone
