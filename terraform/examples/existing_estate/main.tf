# Calling the cioevents module from another configuration: a platform team's
# own root, which already configures its providers (and its backend, left out
# here so the example runs with a local state). The module configures
# neither; it takes the google, google-beta and archive providers of its
# caller. Every module variable but project_id has a default
# (terraform/env/example.tfvars lists them); docs/deploy.md says what to grant
# and which secrets to fill in before the first apply.
#
# From another repository, source the module from this one, e.g.
#   source = "git::<this repository's URL>//terraform/modules/cioevents?ref=<tag>"
# The function source zip is built from the module's repository checkout, so
# the whole repository must be what the source fetches (a git source is).

terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 7.1, < 8.0"
    }
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }
}

variable "project_id" {
  description = "The existing project to deploy cioevents into."
  type        = string
}

# The estate's own provider configuration: its labels land on every resource
# the module creates.
provider "google" {
  project = var.project_id
  region  = "europe-west1"

  default_labels = { team = "lifecycle-messaging", app = "cioevents" }
}

provider "google-beta" {
  project = var.project_id
  region  = "europe-west1"

  default_labels = { team = "lifecycle-messaging", app = "cioevents" }
}

module "cioevents" {
  source = "../../modules/cioevents"

  project_id  = var.project_id
  region      = "europe-west1"
  name_prefix = "lifecycle-cio"

  # Keep the data where the rest of the estate keeps it.
  bigquery_location  = "EU"
  firestore_location = "eur3"
  alert_emails       = ["lifecycle-oncall@example.com"]
}

output "webhook_url" {
  description = "Paste into Customer.io: Integrations → Reporting webhooks → endpoint URL."
  value       = module.cioevents.webhook_url
}

output "signing_keys_secret" {
  description = "Secret that must hold the Customer.io webhook signing key."
  value       = module.cioevents.signing_keys_secret
}
