{{/* Name of the release's objects: the release name, with the chart's unless it has it. */}}
{{- define "mc.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mc.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mc.labels" -}}
{{ include "mc.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "mc.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "mc.postgresqlHost" -}}
{{ include "mc.fullname" . }}-postgresql.{{ .Release.Namespace }}.svc
{{- end -}}

{{/* DATABASE_URL for a role: a key of the Secret, or composed for the bundled PostgreSQL
     (the password through an earlier variable: Kubernetes expands $(NAME)). */}}
{{- define "mc.databaseUrl" -}}
{{- $ := index . 0 -}}{{- $user := index . 1 -}}{{- $passwordKey := index . 2 -}}{{- $urlKey := index . 3 -}}
{{- if $.Values.postgresql.enabled }}
- name: MC_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ $.Values.existingSecret }}, key: {{ $passwordKey }}}
- name: DATABASE_URL
  value: postgresql://{{ $user }}:$(MC_DATABASE_PASSWORD)@{{ include "mc.postgresqlHost" $ }}:5432/mission_control
{{- else }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {name: {{ $.Values.existingSecret }}, key: {{ $urlKey }}}
{{- end }}
{{- end -}}

{{- define "mc.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{/* An optional secret key as an environment variable. */}}
{{- define "mc.optionalSecretEnv" -}}
{{- $ := index . 0 -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef: {name: {{ $.Values.existingSecret }}, key: {{ index . 2 }}, optional: true}
{{- end -}}
