#include "server/admin_apps.h"

#include <cstdint>
#include <optional>

#include "runtime/limits.h"
#include "server/admin_params.h"
#include "server/admin_worker.h"
#include "server/app_store.h"
#include "server/install_store.h"
#include "server/json_response.h"

namespace ps::server {

namespace {
// An upload is a bundle (at most 64 MiB unpacked), compressed.
constexpr std::size_t kMaxUploadBytes = 32u << 20;

// Runs an install store call, answering its refusal as the store says.
HttpResponse refusal_or(const std::function<HttpResponse()>& call) {
  try {
    return call();
  } catch (const InstallRefused& e) {
    return error_response(e.status(), e.what(), e.details());
  }
}

// What the handlers share.
struct AppRoutes {
  AppRoutes(db::Pool& pool, const runtime::Limits& limits, AdminWorker& worker)
      : store(pool, limits), installs(pool), worker(worker) {}
  AppStore store;
  InstallStore installs;
  AdminWorker& worker;
  void run(HttpResponder respond, std::function<HttpResponse()> work) { worker.run(std::move(respond), std::move(work)); }
};

}  // namespace

void add_app_routes(HttpRoutes& routes, const std::function<HttpHandler(HttpHandler)>& admin, db::Pool& pool,
                    const runtime::Limits& limits, AdminWorker& worker) {
  auto impl = std::make_shared<AppRoutes>(pool, limits, worker);
  routes[{"POST", "/admin/apps"}] = HttpRoute(
      admin([impl](const HttpRequest& req, HttpResponder respond) {
        impl->run(std::move(respond), [impl, archive = req.body]() {
          try {
            auto stored = impl->store.add(archive);
            return json_response(stored.created ? 201 : 200, {{"app", stored.app},
                                                              {"version", stored.version},
                                                              {"content_hash", stored.content_hash},
                                                              {"capabilities", stored.capabilities},
                                                              {"created", stored.created}});
          } catch (const InvalidBundle& e) {
            return error_response(422, e.what(), e.details());
          }
        });
      }),
      kMaxUploadBytes);
  routes[{"GET", "/admin/apps"}] = admin([impl](const HttpRequest&, HttpResponder respond) {
    impl->run(std::move(respond), [impl] { return json_response(200, {{"apps", impl->store.list()}}); });
  });
  routes[{"GET", "/admin/apps/{name}"}] = admin([impl](const HttpRequest& req, HttpResponder respond) {
    impl->run(std::move(respond), [impl, name = req.params.at("name")] {
      auto app = impl->store.describe(name);
      return app ? json_response(200, *app) : error_response(404, "no app named " + name);
    });
  });
  routes[{"DELETE", "/admin/apps/{name}/versions/{version}"}] = admin([impl](const HttpRequest& req,
                                                                             HttpResponder respond) {
    const auto& text = req.params.at("version");
    auto version = id_of(text);
    if (!version || *version < 1 || *version > INT32_MAX) {
      return respond(error_response(400, "the version must be a positive integer", {text}));
    }
    impl->run(std::move(respond), [impl, name = req.params.at("name"), version = static_cast<int>(*version)] {
      std::string why;
      switch (impl->store.remove(name, version, &why)) {
        case AppStore::Removal::removed:
          return HttpResponse{204, "application/json", ""};
        case AppStore::Removal::not_found:
          return error_response(404, "no version " + std::to_string(version) + " of " + name);
        case AppStore::Removal::in_use:
          return error_response(409, "the version is in use", {why});
      }
      return error_response(500, "unreachable");
    });
  });

  routes[{"GET", "/admin/installs"}] = admin([impl](const HttpRequest& req, HttpResponder respond) {
    std::optional<long long> team;
    if (auto text = query_value(req.query, "team_id")) {
      team = id_of(*text);
      if (!team) return respond(error_response(400, "team_id must be a team id", {*text}));
    }
    impl->run(std::move(respond), [impl, team] { return json_response(200, {{"installs", impl->installs.list(team)}}); });
  });
  routes[{"POST", "/admin/installs"}] = admin([impl](const HttpRequest& req, HttpResponder respond) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return respond(error_response(400, "the body is not JSON"));
    impl->run(std::move(respond), [impl, body = std::move(body)] {
      return refusal_or([&] { return json_response(201, impl->installs.create(body)); });
    });
  });
  routes[{"PATCH", "/admin/installs/{id}"}] = admin([impl](const HttpRequest& req, HttpResponder respond) {
    auto id = id_of(req.params.at("id"));
    if (!id) return respond(error_response(404, "no install " + req.params.at("id")));
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return respond(error_response(400, "the body is not JSON"));
    impl->run(std::move(respond), [impl, id = *id, body = std::move(body)] {
      return refusal_or([&] { return json_response(200, impl->installs.update(id, body)); });
    });
  });
  routes[{"DELETE", "/admin/installs/{id}"}] = admin([impl](const HttpRequest& req, HttpResponder respond) {
    auto id = id_of(req.params.at("id"));
    if (!id) return respond(error_response(404, "no install " + req.params.at("id")));
    impl->run(std::move(respond), [impl, id = *id] {
      return impl->installs.remove(id) ? HttpResponse{204, "application/json", ""}
                                       : error_response(404, "no install " + std::to_string(id));
    });
  });
}

}  // namespace ps::server
