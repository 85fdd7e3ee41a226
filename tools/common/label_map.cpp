#include "tools/common/label_map.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "tools/common/errors.h"

namespace vc::app {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// Decimal integer; nullopt when not all digits or out of int64 range.
std::optional<int64_t> parse_index(const std::string& s) {
  if (!all_digits(s)) return std::nullopt;
  int64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw IoError(where + ": " + what);
}

/// One (index, name) pair with where it came from ("file:12", "file: element 3").
struct Indexed {
  int64_t index;
  std::string name;
  std::string where;
};

/// Places names by index; indices must be exactly 0..N-1.
std::vector<std::string> by_index(const std::vector<Indexed>& items) {
  const int64_t n = static_cast<int64_t>(items.size());
  std::vector<const Indexed*> slot(items.size(), nullptr);
  for (const auto& it : items) {
    if (it.index < 0 || it.index >= n) {
      // Name the smallest missing index, which is what a reader needs to fix the file.
      std::vector<bool> seen(items.size(), false);
      for (const auto& o : items)
        if (o.index >= 0 && o.index < n) seen[o.index] = true;
      const auto missing = std::find(seen.begin(), seen.end(), false) - seen.begin();
      std::string msg = "index " + std::to_string(it.index) +
                        " is out of range: " + std::to_string(n) + " classes need indices 0.." +
                        std::to_string(n - 1) + " with no gaps (index " + std::to_string(missing) +
                        " is missing)";
      if (missing == 0 && it.index == n) msg += "; indices must start at 0, not 1";
      fail(it.where, msg);
    }
    if (slot[it.index]) {
      fail(it.where, "duplicate index " + std::to_string(it.index) + " (already given at " +
                         slot[it.index]->where + ")");
    }
    slot[it.index] = &it;
  }
  std::vector<std::string> names(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) names[i] = slot[i]->name;
  return names;
}

std::string json_where(const std::string& source, const std::string& what) {
  return source + ": " + what;
}

LabelMap parse_json(const std::string& text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::size_t upto = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    const auto line = 1 + std::count(text.begin(), text.begin() + upto, '\n');
    fail(source + ":" + std::to_string(line), std::string("invalid JSON: ") + e.what());
  }
  LabelMap out;
  if (j.is_array()) {
    out.format = "json list";
    for (std::size_t i = 0; i < j.size(); ++i) {
      const std::string where = json_where(source, "element " + std::to_string(i));
      if (!j[i].is_string()) fail(where, "expected a class name (string), got " + j[i].dump());
      const std::string name = trim(j[i].get<std::string>());
      if (name.empty()) fail(where, "empty class name");
      out.names.push_back(name);
    }
  } else if (j.is_object()) {
    bool values_int = true, keys_int = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      values_int = values_int && it.value().is_number_integer();
      keys_int = keys_int && it.value().is_string() && parse_index(trim(it.key())).has_value();
    }
    if (!values_int && !keys_int) {
      fail(source,
           "a JSON object label map must map names to integer indices "
           "({\"name\": 0, ...}) or decimal-integer keys to names ({\"0\": \"name\"})");
    }
    std::vector<Indexed> items;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string where = json_where(source, "key \"" + it.key() + "\"");
      Indexed x;
      if (values_int) {
        x = {it.value().get<int64_t>(), trim(it.key()), where};
      } else {
        x = {*parse_index(trim(it.key())), trim(it.value().get<std::string>()), where};
      }
      if (x.name.empty()) fail(where, "empty class name");
      items.push_back(std::move(x));
    }
    out.format = values_int ? "json name->index" : "json index->name";
    out.names = by_index(items);
  } else {
    fail(source, "a JSON label map must be a list of names or an object, got " +
                     std::string(j.type_name()));
  }
  return out;
}

/// A CSV record with the line it starts on.
struct Record {
  std::vector<std::string> fields;
  std::size_t line;
  bool blank() const { return fields.size() == 1 && trim(fields[0]).empty(); }
};

/// RFC 4180 reader: ',' separates fields, CRLF or LF ends a record, a field that starts with '"'
/// is quoted (commas, line breaks and "" inside it are literal). `max_records` stops early.
std::vector<Record> parse_csv(const std::string& text, const std::string& source,
                              std::size_t max_records = static_cast<std::size_t>(-1)) {
  std::vector<Record> out;
  std::size_t i = 0, line = 1;
  const std::size_t n = text.size();
  while (i < n && out.size() < max_records) {
    Record rec{{}, line};
    while (true) {  // one field per iteration
      std::string field;
      if (i < n && text[i] == '"') {
        const std::size_t open_line = line;
        ++i;
        while (true) {
          if (i >= n) {
            fail(source + ":" + std::to_string(open_line),
                 "bad CSV quote: quoted field opened on this line is never closed");
          }
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {  // "" -> "
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        if (i < n && text[i] != ',' && text[i] != '\n' &&
            !(text[i] == '\r' && (i + 1 >= n || text[i + 1] == '\n'))) {
          fail(source + ":" + std::to_string(line),
               "bad CSV quote: text after the closing quote of a field");
        }
      } else {
        while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          if (text[i] == '"') {
            fail(source + ":" + std::to_string(line),
                 "bad CSV quote: '\"' inside an unquoted field (quote the whole field and "
                 "double the inner quotes)");
          }
          field += text[i++];
        }
        if (i < n && text[i] == '\r' && !(i + 1 >= n || text[i + 1] == '\n')) {
          fail(source + ":" + std::to_string(line), "bare carriage return in a CSV field");
        }
      }
      rec.fields.push_back(std::move(field));
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && text[i] == '\r') ++i;
      if (i < n && text[i] == '\n') {
        ++i;
        ++line;
      }
      break;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

/// Column index by case-insensitive name, or -1.
int column(const std::vector<std::string>& header, const std::vector<std::string>& names) {
  for (std::size_t c = 0; c < header.size(); ++c)
    for (const auto& want : names)
      if (lower(trim(header[c])) == want) return static_cast<int>(c);
  return -1;
}

LabelMap parse_csv_map(const std::string& text, const std::string& source) {
  auto records = parse_csv(text, source);
  // Trailing blank lines are fine; blank lines elsewhere are errors.
  while (!records.empty() && records.back().blank()) records.pop_back();
  if (records.empty()) fail(source, "empty CSV label map");
  const auto& header = records[0].fields;
  const int name_col = column(header, {"name"});
  if (name_col < 0) {
    std::string h;
    for (const auto& f : header) h += (h.empty() ? "" : ",") + f;
    fail(source + ":1", "a CSV label map needs a header row with a 'Name' column; got '" + h + "'");
  }
  const int index_col = column(header, {"index", "id"});
  const int kg_col = column(header, {"knowledgegraphid"});
  std::vector<Indexed> items;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    const std::string where = source + ":" + std::to_string(rec.line);
    if (rec.blank()) fail(where, "blank line");
    if (rec.fields.size() != header.size()) {
      fail(where, std::to_string(rec.fields.size()) + " fields, the header has " +
                      std::to_string(header.size()));
    }
    std::string name = trim(rec.fields[name_col]);
    if (name.empty() && kg_col >= 0) name = trim(rec.fields[kg_col]);
    if (name.empty()) fail(where, "empty class name");
    int64_t index = static_cast<int64_t>(r - 1);
    if (index_col >= 0) {
      const std::string s = trim(rec.fields[index_col]);
      const auto v = parse_index(s);
      if (!v) fail(where, "index '" + s + "' is not a non-negative decimal integer");
      index = *v;
    }
    items.push_back({index, std::move(name), where});
  }
  if (items.empty()) fail(source, "CSV label map has a header but no classes");
  return {by_index(items), "csv"};
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && lower(s.substr(s.size() - suffix.size())) == suffix;
}

/// The CSV test of the header comment: ".csv", or a first line with a comma and a "name" column.
bool looks_like_csv(const std::string& text, const std::string& source) {
  if (ends_with(source, ".csv")) return true;
  const std::string first = text.substr(0, text.find('\n'));
  if (first.find(',') == std::string::npos) return false;
  try {
    const auto recs = parse_csv(first, source, 1);
    return !recs.empty() && column(recs[0].fields, {"name"}) >= 0;
  } catch (const IoError&) {
    return false;
  }
}

LabelMap parse_lines(const std::string& text, const std::string& source) {
  std::vector<std::pair<std::string, std::size_t>> lines;  // trimmed line, line number
  {
    std::istringstream in(text);
    std::string line;
    std::size_t no = 0;
    while (std::getline(in, line)) lines.emplace_back(trim(line), ++no);
  }
  while (!lines.empty() && lines.back().first.empty()) lines.pop_back();
  if (lines.empty()) fail(source, "label map has no class names");
  for (const auto& [l, no] : lines) {
    if (l.empty())
      fail(source + ":" + std::to_string(no), "blank line (it would shift every later class)");
  }
  // <index> <name>: first token digits. <name> <index>: last token digits.
  auto split_first =
      [](const std::string& l) -> std::optional<std::pair<std::string, std::string>> {
    const auto sp = l.find_first_of(" \t");
    if (sp == std::string::npos) return std::nullopt;
    const std::string tok = l.substr(0, sp), rest = trim(l.substr(sp));
    if (!all_digits(tok) || rest.empty()) return std::nullopt;
    return std::make_pair(tok, rest);
  };
  auto split_last = [](const std::string& l) -> std::optional<std::pair<std::string, std::string>> {
    const auto sp = l.find_last_of(" \t");
    if (sp == std::string::npos) return std::nullopt;
    const std::string tok = l.substr(sp + 1), rest = trim(l.substr(0, sp));
    if (!all_digits(tok) || rest.empty()) return std::nullopt;
    return std::make_pair(tok, rest);
  };
  const bool index_first = std::all_of(
      lines.begin(), lines.end(), [&](const auto& l) { return split_first(l.first).has_value(); });
  const bool index_last =
      !index_first && std::all_of(lines.begin(), lines.end(),
                                  [&](const auto& l) { return split_last(l.first).has_value(); });
  LabelMap out;
  if (!index_first && !index_last) {
    out.format = "names";
    for (auto& [l, no] : lines) out.names.push_back(l);
    return out;
  }
  out.format = index_first ? "index name" : "name index";
  std::vector<Indexed> items;
  for (const auto& [l, no] : lines) {
    const std::string where = source + ":" + std::to_string(no);
    const auto parts = index_first ? *split_first(l) : *split_last(l);
    const auto v = parse_index(parts.first);
    if (!v) fail(where, "index '" + parts.first + "' is too large");
    items.push_back({*v, parts.second, where});
  }
  out.names = by_index(items);
  return out;
}

}  // namespace

LabelMap parse_label_map(const std::string& raw, const std::string& source) {
  std::string text = raw;
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) fail(source, "label map has no class names");
  if (text[first] == '[' || text[first] == '{') return parse_json(text, source);
  if (looks_like_csv(text, source)) return parse_csv_map(text, source);
  return parse_lines(text, source);
}

LabelMap load_label_map(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open label map '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw IoError("cannot read label map '" + path + "'");
  return parse_label_map(ss.str(), path);
}

std::vector<std::string> read_label_map(const std::string& path) {
  return load_label_map(path).names;
}

std::string class_name(const std::vector<std::string>& names, int64_t index) {
  if (index >= 0 && static_cast<std::size_t>(index) < names.size()) return names[index];
  return std::to_string(index);
}

}  // namespace vc::app
