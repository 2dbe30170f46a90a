{{- /*
"true" when the ServiceMonitors are rendered: metrics.serviceMonitor.enabled, and the cluster serves
monitoring.coreos.com/v1 ServiceMonitor (the Prometheus Operator's CRD) or metrics.serviceMonitor.force.
Without the guard, `helm install` on a cluster without the Prometheus Operator fails on the unknown kind.
*/ -}}
{{- define "trustgate.serviceMonitorRendered" -}}
{{- $sm := .Values.metrics.serviceMonitor -}}
{{- if and $sm.enabled (or $sm.force (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1/ServiceMonitor")) -}}
true
{{- end -}}
{{- end }}
