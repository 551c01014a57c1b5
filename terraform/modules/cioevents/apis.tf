# serviceusage and cloudresourcemanager are enabled during bootstrap
# (docs/deploy.md): Terraform cannot enable anything before they are on.
locals {
  services = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "bigquerydatatransfer.googleapis.com",
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
      condition     = !fileexists("${path.root}/terraform.tfvars") && !fileexists("${path.root}/terraform.tfvars.json") && length(fileset(path.root, "*.auto.tfvars*")) == 0
      error_message = "terraform.tfvars or *.auto.tfvars is present in the root configuration (terraform/): move its settings into the committed env/<name>.tfvars and apply with -var-file, so that a laptop and Cloud Build apply the same values (docs/deploy.md)."
    }
  }
}

# Google creates the Pub/Sub service agent some time after the API is enabled,
# and on a new project an IAM grant to it can fail because it does not exist
# yet. generateServiceIdentity makes it exist, and returns once it does, so
# the grants in iam.tf depend on this resource and one apply is enough. The
# google provider's pubsub_subscription page names this resource for the
# agent's email; it exists only in google-beta. Creating it again is a
# no-op, and so is destroying it.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.enabled]
}

locals {
  # The identity's email attribute may be empty (the API does not return it
  # for every service), so the member is spelled out; grants to it depend on
  # google_project_service_identity.pubsub. Dead-lettering and OIDC push run
  # as this agent, so it needs the grants in iam.tf.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
