// Package docker holds no code. It is the module of dosguard's deployment
// files — the Dockerfile, the Fluent Bit configs (classic and YAML), the
// parsers, the sample logs, the Kubernetes manifests for EKS and the IAM
// policy — and of the tests that check them without a Docker engine or a
// cluster:
//
//   - every Fluent Bit config under docker/, and every one embedded in a
//     ConfigMap, is loaded with the plugin's own config parser (package
//     conf) and each dosguard output in it passes conf.Parse, with and
//     without the environment that switches it to real blocking;
//   - the parsers' regexes extract the client address from every line of
//     the samples, and the demo configs' rules trip on exactly the
//     attackers in them;
//   - every manifest decodes strictly into the Kubernetes API types, and
//     the sidecar's volume, mounts and tail path agree;
//   - the IAM policy names exactly the AWS actions that packages acl and
//     notify call;
//   - the Dockerfile builds with the Makefile's command, and the built .so
//     needs no glibc newer than the runtime image's.
//
// It is a module of its own so that the Kubernetes API packages stay out of
// the plugin's go.mod.
package docker
