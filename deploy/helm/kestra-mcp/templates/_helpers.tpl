{{/* The release's resource name, at most 63 characters (a DNS label). */}}
{{- define "kestra-mcp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kestra-mcp.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kestra-mcp.labels" -}}
{{ include "kestra-mcp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Secret with the Kestra credentials. */}}
{{- define "kestra-mcp.kestraSecret" -}}
{{- .Values.kestra.existingSecret | default (printf "%s-kestra" (include "kestra-mcp.fullname" .)) -}}
{{- end -}}

{{/* The Secret with the clients' static token, or nothing when OAuth alone is used. */}}
{{- define "kestra-mcp.tokenSecret" -}}
{{- if .Values.auth.existingSecret -}}
{{- .Values.auth.existingSecret -}}
{{- else if .Values.auth.token -}}
{{- printf "%s-http-token" (include "kestra-mcp.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* Refuses values that would give a server nobody can use safely. */}}
{{- define "kestra-mcp.check" -}}
{{- if not .Values.kestra.baseUrl -}}
{{- fail "kestra.baseUrl is required (e.g. http://kestra:8080/api/v1)" -}}
{{- end -}}
{{- if not (or .Values.auth.token .Values.auth.existingSecret .Values.auth.oauth.issuer) -}}
{{- fail "clients must authenticate: set auth.token, auth.existingSecret or auth.oauth.issuer" -}}
{{- end -}}
{{- if and .Values.auth.oauth.issuer (not .Values.auth.oauth.resource) -}}
{{- fail "auth.oauth.resource is required with auth.oauth.issuer: this server's public URL, e.g. https://mcp.example.com/mcp" -}}
{{- end -}}
{{- if and (not .Values.kestra.existingSecret) (not .Values.kestra.apiToken) (not (and .Values.kestra.username .Values.kestra.password)) -}}
{{- fail "Kestra credentials: set kestra.existingSecret, kestra.apiToken, or kestra.username and kestra.password" -}}
{{- end -}}
{{- end -}}
