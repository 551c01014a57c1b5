package tfcheck

import (
	"slices"
	"strings"
)

// CreatorRoles maps each resource type terraform/ may declare (data sources
// as data.<type>) to the predefined roles whoever applies needs to create,
// change and delete it. The deployer's role list is derived from it
// (DeployerRoles), so a new resource type cannot be deployed by a deployer
// nobody gave the role: the type is unmapped until someone adds it here.
var CreatorRoles = map[string][]string{
	"data.archive_file":   nil, // local: zips files on the machine that plans
	"data.google_project": {"roles/browser"},

	"google_project_service":          {"roles/serviceusage.serviceUsageAdmin"},
	"google_project_service_identity": {"roles/serviceusage.serviceUsageAdmin"},

	"google_service_account":            {"roles/iam.serviceAccountAdmin"},
	"google_service_account_iam_member": {"roles/iam.serviceAccountAdmin"},
	"google_project_iam_member":         {"roles/resourcemanager.projectIamAdmin"},
	"google_project_iam_custom_role":    {"roles/iam.roleAdmin"},

	"google_pubsub_topic":                   {"roles/pubsub.admin"},
	"google_pubsub_topic_iam_member":        {"roles/pubsub.admin"},
	"google_pubsub_subscription":            {"roles/pubsub.admin"},
	"google_pubsub_subscription_iam_member": {"roles/pubsub.admin"},

	"google_secret_manager_secret":            {"roles/secretmanager.admin"},
	"google_secret_manager_secret_iam_member": {"roles/secretmanager.admin"},

	// bigquery.admin also runs the query job of an in-place column drop
	// (docs/schema.md, Schema changes).
	"google_bigquery_dataset":            {"roles/bigquery.admin"},
	"google_bigquery_dataset_iam_member": {"roles/bigquery.admin"},
	"google_bigquery_table":              {"roles/bigquery.admin"},
	"google_bigquery_table_iam_member":   {"roles/bigquery.admin"},
	// A scheduled query runs as its service account, which the deployer must be allowed to act as.
	"google_bigquery_data_transfer_config": {"roles/bigquery.admin", "roles/iam.serviceAccountUser"},

	"google_firestore_database": {"roles/datastore.owner"},
	"google_firestore_field":    {"roles/datastore.owner"},

	"google_storage_bucket":        {"roles/storage.admin"},
	"google_storage_bucket_object": {"roles/storage.admin"},

	// Deploying a function, a job or a schedule that runs as a service
	// account needs iam.serviceAccounts.actAs on that account.
	"google_cloudfunctions2_function":        {"roles/cloudfunctions.admin", "roles/iam.serviceAccountUser"},
	"google_cloud_run_v2_service_iam_member": {"roles/run.admin"},
	"google_cloud_run_v2_job":                {"roles/run.admin", "roles/iam.serviceAccountUser"},
	"google_cloud_run_v2_job_iam_member":     {"roles/run.admin"},
	"google_cloud_scheduler_job":             {"roles/cloudscheduler.admin", "roles/iam.serviceAccountUser"},

	// Creating a repository needs artifactregistry.admin (no narrower
	// predefined role has repositories.create); it also carries the plan
	// build's push of the job image (uploadArtifacts) and the read access
	// deploying a job from the repository needs.
	"google_artifact_registry_repository":            {"roles/artifactregistry.admin"},
	"google_artifact_registry_repository_iam_member": {"roles/artifactregistry.admin"},

	"google_logging_metric":            {"roles/logging.configWriter"},
	"google_logging_project_exclusion": {"roles/logging.configWriter"},

	"google_monitoring_alert_policy":         {"roles/monitoring.editor"},
	"google_monitoring_dashboard":            {"roles/monitoring.editor"},
	"google_monitoring_notification_channel": {"roles/monitoring.editor"},
}

// Types returns the resource types the module declares, data sources as
// data.<type>, sorted.
func (m *Module) Types() []string {
	seen := map[string]bool{}
	for key := range m.resources {
		typ, _, _ := strings.Cut(key, ".")
		seen[typ] = true
	}
	for key := range m.data {
		typ, _, _ := strings.Cut(key, ".")
		seen["data."+typ] = true
	}
	return sortedKeys(seen)
}

// DeployerRoles returns the roles that create the given resource types,
// sorted and without repeats, and the types CreatorRoles does not map.
func DeployerRoles(types []string) (roles, unmapped []string) {
	for _, t := range types {
		rs, ok := CreatorRoles[t]
		if !ok {
			unmapped = append(unmapped, t)
			continue
		}
		roles = append(roles, rs...)
	}
	slices.Sort(roles)
	return slices.Compact(roles), unmapped
}

// RoleUsers returns, for each role of DeployerRoles(types), the types it is
// there for, for the documented table.
func RoleUsers(types []string) map[string][]string {
	out := map[string][]string{}
	for _, t := range types {
		for _, r := range CreatorRoles[t] {
			out[r] = append(out[r], t)
		}
	}
	return out
}
