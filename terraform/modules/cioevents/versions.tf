# The module declares the providers it needs and configures none: the calling
# configuration owns the provider blocks and the backend (terraform/versions.tf
# for this repository's root, or another estate's own configuration).
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
}
