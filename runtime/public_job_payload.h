#pragma once
// The payload an operator gives a public job (plugin.json "publicJobs"),
// checked against what the job declares: each field's type (string,
// boolean, number, json, date, daterange), whether it is required, and its
// default. plugin.json as published is trusted no more than the payload:
// a declaration this cannot read is reported, never thrown past.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ps::runtime {

struct CheckedPayload {
  nlohmann::json payload;             // with defaults filled in
  std::vector<std::string> problems;  // every one found; empty: valid
};

// `declared`: the job's "payload" object (null when it declares none: any
// object is taken as it is).
CheckedPayload check_public_job_payload(const nlohmann::json& declared, const nlohmann::json& payload);

}  // namespace ps::runtime
