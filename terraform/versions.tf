# The root configuration: the backend and the provider blocks, which the
# module (modules/cioevents) leaves to whoever calls it. main.tf,
# main_variables.tf and main_outputs.tf pass everything through to it.
terraform {
  # Cross-variable references in validation blocks need 1.9.
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0, < 8.0"
    }
    # Only for google_project_service_identity (apis.tf), which the google
    # provider does not have.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.0, < 8.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4, < 3.0"
    }
  }

  # Partial configuration: the bucket and prefix come from
  # `terraform init -backend-config=...` (see docs/deploy.md and cloudbuild.yaml),
  # so one configuration serves every project.
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = var.labels
}
