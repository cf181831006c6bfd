package validation

import (
	"path"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const fileModeErrorMsg = "must be a number between 0 and 0777 (octal), both inclusive"

// validVolumeDownwardAPIFieldPaths are the pod fields a downwardAPI volume
// file may expose (labels and annotations also as a whole).
var validVolumeDownwardAPIFieldPaths = sets.New(
	"metadata.name",
	"metadata.namespace",
	"metadata.labels",
	"metadata.annotations",
	"metadata.uid")

var supportedHostPathTypes = sets.New(
	corev1.HostPathUnset,
	corev1.HostPathDirectoryOrCreate,
	corev1.HostPathDirectory,
	corev1.HostPathFileOrCreate,
	corev1.HostPathFile,
	corev1.HostPathSocket,
	corev1.HostPathCharDev,
	corev1.HostPathBlockDev)

// validateVolumes validates pod volumes and returns the valid ones by name,
// which volumeMounts are then checked against.
func validateVolumes(volumes []corev1.Volume, isPod bool, fldPath *field.Path) (map[string]corev1.VolumeSource, field.ErrorList) {
	var allErrs field.ErrorList
	names := sets.New[string]()
	valid := make(map[string]corev1.VolumeSource, len(volumes))
	for i := range volumes {
		vol := &volumes[i]
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		errs := validateVolumeSource(&vol.VolumeSource, isPod, idxPath)
		if vol.Name == "" {
			errs = append(errs, field.Required(namePath, ""))
		} else {
			errs = append(errs, validateDNS1123Label(vol.Name, namePath)...)
		}
		if names.Has(vol.Name) {
			errs = append(errs, field.Duplicate(namePath, vol.Name))
		}
		if len(errs) == 0 {
			names.Insert(vol.Name)
			valid[vol.Name] = vol.VolumeSource
		} else {
			allErrs = append(allErrs, errs...)
		}
	}
	return valid, allErrs
}

// volumeSourceCheck is one possible source of a volume. The order of the
// checks decides which source is blamed when several are set, and follows
// kube-apiserver's order.
type volumeSourceCheck struct {
	name     string
	set      bool
	validate func(*field.Path) field.ErrorList
}

func validateVolumeSource(src *corev1.VolumeSource, isPod bool, fldPath *field.Path) field.ErrorList {
	none := func(*field.Path) field.ErrorList { return nil }
	checks := []volumeSourceCheck{
		{"emptyDir", src.EmptyDir != nil, func(p *field.Path) field.ErrorList { return validateEmptyDir(src.EmptyDir, p) }},
		{"hostPath", src.HostPath != nil, func(p *field.Path) field.ErrorList { return validateHostPath(src.HostPath, p) }},
		{"gitRepo", src.GitRepo != nil, none},
		{"gcePersistentDisk", src.GCEPersistentDisk != nil, none},
		{"awsElasticBlockStore", src.AWSElasticBlockStore != nil, none},
		{"secret", src.Secret != nil, func(p *field.Path) field.ErrorList { return validateSecretVolume(src.Secret, p) }},
		{"nfs", src.NFS != nil, func(p *field.Path) field.ErrorList { return validateNFSVolume(src.NFS, p) }},
		{"iscsi", src.ISCSI != nil, none},
		{"glusterfs", src.Glusterfs != nil, none},
		{"flocker", src.Flocker != nil, none},
		{"persistentVolumeClaim", src.PersistentVolumeClaim != nil, func(p *field.Path) field.ErrorList {
			if src.PersistentVolumeClaim.ClaimName == "" {
				return field.ErrorList{field.Required(p.Child("claimName"), "")}
			}
			return nil
		}},
		{"rbd", src.RBD != nil, none},
		{"cinder", src.Cinder != nil, none},
		{"cephfs", src.CephFS != nil, none},
		{"quobyte", src.Quobyte != nil, none},
		{"downwardAPI", src.DownwardAPI != nil, func(p *field.Path) field.ErrorList { return validateDownwardAPIVolume(src.DownwardAPI, p) }},
		{"fc", src.FC != nil, none},
		{"flexVolume", src.FlexVolume != nil, none},
		{"configMap", src.ConfigMap != nil, func(p *field.Path) field.ErrorList { return validateConfigMapVolume(src.ConfigMap, p) }},
		{"azureFile", src.AzureFile != nil, none},
		{"vsphereVolume", src.VsphereVolume != nil, none},
		{"photonPersistentDisk", src.PhotonPersistentDisk != nil, none},
		{"portworxVolume", src.PortworxVolume != nil, none},
		{"azureDisk", src.AzureDisk != nil, none},
		{"storageos", src.StorageOS != nil, none},
		{"projected", src.Projected != nil, func(p *field.Path) field.ErrorList { return validateProjectedVolume(src.Projected, p) }},
		{"scaleIO", src.ScaleIO != nil, none},
		{"csi", src.CSI != nil, func(p *field.Path) field.ErrorList {
			if src.CSI.Driver == "" {
				return field.ErrorList{field.Required(p.Child("driver"), "")}
			}
			return nil
		}},
		{"ephemeral", src.Ephemeral != nil, func(p *field.Path) field.ErrorList {
			if src.Ephemeral.VolumeClaimTemplate == nil {
				return field.ErrorList{field.Required(p.Child("volumeClaimTemplate"), "")}
			}
			return nil
		}},
		{"image", src.Image != nil, func(p *field.Path) field.ErrorList {
			var errs field.ErrorList
			if isPod && src.Image.Reference == "" {
				errs = append(errs, field.Required(p.Child("reference"), ""))
			}
			if src.Image.PullPolicy != "" {
				errs = append(errs, validatePullPolicy(src.Image.PullPolicy, p.Child("pullPolicy"))...)
			}
			return errs
		}},
	}

	var allErrs field.ErrorList
	numSources := 0
	for _, c := range checks {
		if !c.set {
			continue
		}
		if numSources > 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child(c.name), "may not specify more than 1 volume type"))
			continue
		}
		numSources++
		allErrs = append(allErrs, c.validate(fldPath.Child(c.name))...)
	}
	if numSources == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "must specify a volume type"))
	}
	return allErrs
}

func validateEmptyDir(ed *corev1.EmptyDirVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if ed.SizeLimit != nil && ed.SizeLimit.Cmp(resource.Quantity{}) < 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
	}
	if ed.Medium != corev1.StorageMediumDefault && ed.Medium != corev1.StorageMediumMemory &&
		!strings.HasPrefix(string(ed.Medium), string(corev1.StorageMediumHugePages)) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("medium"), ed.Medium,
			[]string{string(corev1.StorageMediumDefault), string(corev1.StorageMediumMemory), string(corev1.StorageMediumHugePages)}))
	}
	return allErrs
}

func validateHostPath(hp *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	if hp.Path == "" {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	allErrs := validatePathNoBacksteps(hp.Path, fldPath.Child("path"))
	if hp.Type != nil && !supportedHostPathTypes.Has(*hp.Type) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), *hp.Type, sets.List(supportedHostPathTypes)))
	}
	return allErrs
}

func validateNFSVolume(nfs *corev1.NFSVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if nfs.Server == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("server"), ""))
	}
	if nfs.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	if !path.IsAbs(nfs.Path) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("path"), nfs.Path, "must be an absolute path"))
	}
	return allErrs
}

func validateSecretVolume(s *corev1.SecretVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if s.SecretName == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretName"), ""))
	}
	allErrs = append(allErrs, validateFileMode(s.DefaultMode, fldPath.Child("defaultMode"))...)
	for i := range s.Items {
		allErrs = append(allErrs, validateKeyToPath(&s.Items[i], fldPath.Child("items").Index(i))...)
	}
	return allErrs
}

func validateConfigMapVolume(c *corev1.ConfigMapVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if c.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	}
	allErrs = append(allErrs, validateFileMode(c.DefaultMode, fldPath.Child("defaultMode"))...)
	for i := range c.Items {
		allErrs = append(allErrs, validateKeyToPath(&c.Items[i], fldPath.Child("items").Index(i))...)
	}
	return allErrs
}

func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

func validateKeyToPath(kp *corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if kp.Key == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("key"), ""))
	}
	if kp.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validateLocalNonReservedPath(kp.Path, fldPath.Child("path"))...)
	allErrs = append(allErrs, validateFileMode(kp.Mode, fldPath.Child("mode"))...)
	return allErrs
}

func validateDownwardAPIVolume(d *corev1.DownwardAPIVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateFileMode(d.DefaultMode, fldPath.Child("defaultMode"))
	for i := range d.Items {
		allErrs = append(allErrs, validateDownwardAPIVolumeFile(&d.Items[i], fldPath.Child("items").Index(i))...)
	}
	return allErrs
}

func validateDownwardAPIVolumeFile(file *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if file.Path == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validateLocalNonReservedPath(file.Path, fldPath.Child("path"))...)
	switch {
	case file.FieldRef != nil:
		allErrs = append(allErrs, validateObjectFieldSelector(file.FieldRef, validVolumeDownwardAPIFieldPaths, fldPath.Child("fieldRef"))...)
		if file.ResourceFieldRef != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case file.ResourceFieldRef != nil:
		allErrs = append(allErrs, validateResourceFieldSelector(file.ResourceFieldRef, true, fldPath.Child("resourceFieldRef"))...)
	default:
		allErrs = append(allErrs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	allErrs = append(allErrs, validateFileMode(file.Mode, fldPath.Child("mode"))...)
	return allErrs
}

func validateProjectedVolume(p *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateFileMode(p.DefaultMode, fldPath.Child("defaultMode"))
	paths := sets.New[string]()
	// addPath reports a file path that another source of the volume already uses.
	addPath := func(p string, at *field.Path) {
		if p == "" {
			return
		}
		if paths.Has(p) {
			allErrs = append(allErrs, field.Invalid(at, p, "conflicting duplicate paths"))
		}
		paths.Insert(p)
	}
	for i, src := range p.Sources {
		srcPath := fldPath.Child("sources").Index(i)
		numSources := 0
		// A secret or config map projection: a name, and items that map
		// keys to paths no other projection uses.
		namedItems := func(name string, items []corev1.KeyToPath, at *field.Path) {
			numSources++
			if name == "" {
				allErrs = append(allErrs, field.Required(at.Child("name"), ""))
			}
			for j := range items {
				itemPath := at.Child("items").Index(j)
				allErrs = append(allErrs, validateKeyToPath(&items[j], itemPath)...)
				addPath(items[j].Path, itemPath.Child("path"))
			}
		}
		if src.Secret != nil {
			namedItems(src.Secret.Name, src.Secret.Items, srcPath.Child("secret"))
		}
		if src.ConfigMap != nil {
			namedItems(src.ConfigMap.Name, src.ConfigMap.Items, srcPath.Child("configMap"))
		}
		if src.DownwardAPI != nil {
			numSources++
			dp := srcPath.Child("downwardAPI")
			for j := range src.DownwardAPI.Items {
				itemPath := dp.Child("items").Index(j)
				allErrs = append(allErrs, validateDownwardAPIVolumeFile(&src.DownwardAPI.Items[j], itemPath)...)
				addPath(src.DownwardAPI.Items[j].Path, itemPath.Child("path"))
			}
		}
		if src.ServiceAccountToken != nil {
			numSources++
			tp := srcPath.Child("serviceAccountToken")
			if exp := src.ServiceAccountToken.ExpirationSeconds; exp != nil {
				if *exp < 10*60 {
					allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), *exp, "may not specify a duration less than 10 minutes"))
				}
				if *exp > 1<<32 {
					allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), *exp, "may not specify a duration larger than 2^32 seconds"))
				}
			}
			if src.ServiceAccountToken.Path == "" {
				allErrs = append(allErrs, field.Required(tp.Child("path"), ""))
			} else {
				allErrs = append(allErrs, validateLocalNonReservedPath(src.ServiceAccountToken.Path, tp.Child("path"))...)
			}
			addPath(src.ServiceAccountToken.Path, tp.Child("path"))
		}
		if src.ClusterTrustBundle != nil {
			numSources++
			bp := srcPath.Child("clusterTrustBundle")
			if src.ClusterTrustBundle.Path == "" {
				allErrs = append(allErrs, field.Required(bp.Child("path"), ""))
			}
			allErrs = append(allErrs, validateLocalNonReservedPath(src.ClusterTrustBundle.Path, bp.Child("path"))...)
			addPath(src.ClusterTrustBundle.Path, bp.Child("path"))
		}
		if numSources > 1 {
			allErrs = append(allErrs, field.Forbidden(srcPath, "may not specify more than 1 volume type per source"))
		}
	}
	return allErrs
}

// validateLocalDescendingPath requires a relative path without ".." elements.
func validateLocalDescendingPath(targetPath string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(targetPath) {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must be a relative path"))
	}
	return append(allErrs, validatePathNoBacksteps(targetPath, fldPath)...)
}

// validatePathNoBacksteps rejects any ".." element: a volume path must never
// escape the directory it is resolved in.
func validatePathNoBacksteps(targetPath string, fldPath *field.Path) field.ErrorList {
	for _, item := range strings.Split(filepath.ToSlash(targetPath), "/") {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, targetPath, "must not contain '..'")}
		}
	}
	return nil
}

// validateLocalNonReservedPath is validateLocalDescendingPath that also
// rejects names starting with "..", which the kubelet's atomic writer reserves.
func validateLocalNonReservedPath(targetPath string, fldPath *field.Path) field.ErrorList {
	allErrs := validateLocalDescendingPath(targetPath, fldPath)
	if strings.HasPrefix(targetPath, "..") && !strings.HasPrefix(targetPath, "../") {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must not start with '..'"))
	}
	return allErrs
}
