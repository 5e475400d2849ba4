#include "db/error_text.h"

#include <pqxx/except>

namespace ps::db {

std::string error_text(const std::exception& e) {
  std::string raw = e.what();
  while (!raw.empty() && (raw.back() == '\n' || raw.back() == ' ')) raw.pop_back();
  // One line: a line break (and the indent after it) becomes a space.
  std::string text;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\n') {
      text += raw[i];
      continue;
    }
    while (i + 1 < raw.size() && (raw[i + 1] == ' ' || raw[i + 1] == '\t')) ++i;
    text += ' ';
  }
  // A lost or refused connection reads, in libpqxx, as odd messages ("Could
  // not obtain client encoding"): say what it means.
  bool lost = dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
              text.find("Could not obtain client encoding") != std::string::npos;
  if (lost && text.rfind("Postgres is unreachable", 0) != 0) text = "Postgres is unreachable: " + text;
  return text;
}

}  // namespace ps::db
