# Several Customer.io workspaces served by one deployment (docs/workspaces.md).
# Each is named in the signing keys secret (name=key); unnamed
# keys are the workspace "default", whose Track credentials are the
# track_site_id and track_api_key secrets and whose policy is cio_actions.
# Named workspaces' credentials share one secret, created only when
# `workspaces` lists some, since a mounted secret without a version fails the
# deploy.

variable "workspaces" {
  description = "Named workspaces (as named in the signing keys secret) that have their own Track API credentials. A non-empty list creates the <prefix>-track-workspaces secret, whose value you add before the apply reaches the processor: name=site_id:api_key[:us|eu] per workspace, comma-separated (CIO_WORKSPACE_CREDENTIALS). An event from a workspace without credentials is stored and never acted on."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for w in var.workspaces : can(regex("^[a-z][a-z0-9_-]{0,29}$", w)) && w != "default"])
    error_message = "workspaces must list workspace names (a lowercase letter, then up to 29 lowercase letters, digits, _ or -) other than default, whose credentials are the track_site_id and track_api_key secrets."
  }

  validation {
    condition     = length(distinct(var.workspaces)) == length(var.workspaces)
    error_message = "workspaces lists a name twice."
  }
}

variable "workspace_actions" {
  description = "CIO_WORKSPACE_ACTIONS: the action policy of named workspaces, each as cio_actions takes it (\"\" for the safe defaults, \"none\", or a JSON policy). A workspace not listed has cio_actions. A policy other than \"none\" needs the workspace's credentials (listed in workspaces) unless cio_actions_dry_run."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for w, p in var.workspace_actions : can(regex("^[a-z][a-z0-9_-]{0,29}$", w)) && w != "default"])
    error_message = "workspace_actions keys must be workspace names (a lowercase letter, then up to 29 lowercase letters, digits, _ or -) other than default, whose policy is cio_actions."
  }

  validation {
    condition     = alltrue([for w, p in var.workspace_actions : contains(["", "none"], trimspace(p)) || can(keys(jsondecode(p)))])
    error_message = "workspace_actions values must be \"\", \"none\" or a JSON object policy, as cio_actions takes."
  }

  validation {
    condition     = var.cio_actions_dry_run || alltrue([for w, p in var.workspace_actions : trimspace(p) == "none" || contains(var.workspaces, w)])
    error_message = "workspace_actions gives a workspace a policy but workspaces does not list it, so it has no Track API credentials: list it, or make its policy \"none\"."
  }
}

variable "workspaces_secret_version" {
  description = "Secret Manager version of the named workspaces' Track API credentials the processor loads (\"latest\" or a number; change it to roll instances onto new credentials)."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^(latest|[1-9][0-9]*)$", var.workspaces_secret_version))
    error_message = "workspaces_secret_version must be \"latest\" or a version number."
  }
}

resource "google_secret_manager_secret" "workspace_credentials" {
  count = length(var.workspaces) > 0 ? 1 : 0

  project   = var.project_id
  secret_id = "${var.name_prefix}-track-workspaces"

  # name=site_id:api_key[:region], comma-separated, one per named workspace.
  labels = { consumer = "processor" }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_iam_member" "processor_reads_workspace_credentials" {
  count = length(google_secret_manager_secret.workspace_credentials)

  project   = var.project_id
  secret_id = google_secret_manager_secret.workspace_credentials[0].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.processor.member
}

output "track_workspaces_secret" {
  description = "Secret that must hold the named workspaces' Track API credentials (name=site_id:api_key[:region], comma-separated); null without named workspaces."
  value       = one(google_secret_manager_secret.workspace_credentials[*].secret_id)
}
