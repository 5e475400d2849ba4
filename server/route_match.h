#pragma once
// Which route a request path takes. A route's path is literal, or has
// segments written `{name}` that match one non-empty segment of the
// request's path (the part between two slashes), handed to the handler in
// HttpRequest::params. A literal route wins over a templated one.

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace ps::server {

using PathParams = std::map<std::string, std::string>;

// The template's parameters if `path` matches `pattern`, else nullopt.
std::optional<PathParams> match_path(std::string_view pattern, std::string_view path);

}  // namespace ps::server
