# serviceusage and cloudresourcemanager are enabled during bootstrap
# (docs/deploy.md): Terraform cannot enable anything before they are on.
locals {
  services = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.value

  # Turning an API off on destroy would break anything else in the project
  # that uses it; leave that decision to the project owner.
  disable_on_destroy = false
}

data "google_project" "this" {
  project_id = var.project_id

  lifecycle {
    # Terraform loads these files by itself on a laptop, and Cloud Build never
    # sees them (terraform.tfvars is git-ignored), so they would make the two
    # deploy different settings. Settings belong in env/<name>.tfvars.
    precondition {
      condition     = !fileexists("${path.module}/terraform.tfvars") && !fileexists("${path.module}/terraform.tfvars.json") && length(fileset(path.module, "*.auto.tfvars*")) == 0
      error_message = "terraform.tfvars or *.auto.tfvars is present in terraform/: move its settings into the committed env/<name>.tfvars and apply with -var-file, so that a laptop and Cloud Build apply the same values (docs/deploy.md)."
    }
  }
}

locals {
  # Created by Google when the Pub/Sub API is enabled. Dead-lettering and OIDC
  # push run as this agent, so it needs the grants in iam.tf.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
