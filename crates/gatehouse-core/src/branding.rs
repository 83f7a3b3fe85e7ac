//! The brand the hosted pages and emails show, and its rules: a name, a logo from an
//! absolute `http(s)` URL, and colours as `#rgb`/`#rrggbb` only, so no value set in
//! configuration or through the API can inject markup or CSS.

use crate::validate::{Body, Patch};
use crate::Error;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    /// Shown as the page heading and title, and in email subjects.
    pub name: String,
    /// An absolute `https:` (or `http:`) URL of a logo image; none by default.
    pub logo_url: Option<String>,
    /// Buttons, links and focus rings.
    pub primary_color: String,
    /// Behind the page's card.
    pub page_background: String,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            name: "Gatehouse".into(),
            logo_url: None,
            primary_color: "#3b5bdb".into(),
            page_background: "#f1f3f5".into(),
        }
    }
}

impl Branding {
    /// Every rule, the first broken one named by `prefix` + its field (`branding.` in
    /// configuration, Auth0's property path through the API is the caller's to map).
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err(Error::invalid_field("name", "must be 1 to 100 characters"));
        }
        check_color("primary_color", &self.primary_color)?;
        check_color("page_background", &self.page_background)?;
        if let Some(logo) = &self.logo_url {
            check_image_url("logo_url", logo)?;
        }
        Ok(())
    }
}

/// Auth0's `/api/v2/branding` document: what the API and the console set over the
/// configured brand. Every field is optional; an unset one falls back to configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrandingSettings {
    pub primary_color: Option<String>,
    pub page_background: Option<String>,
    pub logo_url: Option<String>,
    pub favicon_url: Option<String>,
    pub font_url: Option<String>,
}

impl BrandingSettings {
    /// Auth0's shape: only what is set.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let mut colors = Map::new();
        for (k, v) in [("primary", &self.primary_color), ("page_background", &self.page_background)] {
            if let Some(v) = v {
                colors.insert(k.into(), json!(v));
            }
        }
        if !colors.is_empty() {
            out.insert("colors".into(), Value::Object(colors));
        }
        for (k, v) in [("logo_url", &self.logo_url), ("favicon_url", &self.favicon_url)] {
            if let Some(v) = v {
                out.insert(k.into(), json!(v));
            }
        }
        if let Some(url) = &self.font_url {
            out.insert("font".into(), json!({ "url": url }));
        }
        Value::Object(out)
    }

    /// The stored form is the API's.
    pub fn from_stored(v: &Value) -> Self {
        Self::default().patched(v).unwrap_or_default()
    }

    /// These settings with Auth0's PATCH body applied (`null` unsets); errors name the field.
    pub fn patched(&self, body: &Value) -> Result<Self, Error> {
        let b = Body::new(body, &["colors", "logo_url", "favicon_url", "font"])?;
        let mut next = self.clone();
        if b.raw("colors").is_some_and(Value::is_null) {
            next.primary_color = None;
            next.page_background = None;
        }
        if let Some(colors) = b.object("colors", &["primary", "page_background"])? {
            for (key, slot) in [("primary", &mut next.primary_color), ("page_background", &mut next.page_background)] {
                let patch = colors.string(key, 4, 7)?;
                if let Patch::Set(c) = &patch {
                    check_color(&format!("colors.{key}"), c)?;
                }
                patch.apply_to(slot);
            }
        }
        for (key, slot) in [("logo_url", &mut next.logo_url), ("favicon_url", &mut next.favicon_url)] {
            let patch = b.string(key, 1, 2048)?;
            if let Patch::Set(u) = &patch {
                check_image_url(key, u)?;
            }
            patch.apply_to(slot);
        }
        if b.raw("font").is_some_and(Value::is_null) {
            next.font_url = None;
        }
        if let Some(font) = b.object("font", &["url"])? {
            let patch = font.string("url", 1, 2048)?;
            if let Patch::Set(u) = &patch {
                check_image_url("font.url", u)?;
            }
            patch.apply_to(&mut next.font_url);
        }
        Ok(next)
    }
}

/// The part of Auth0's `/api/v2/tenants/settings` Gatehouse keeps: the name users read
/// and where they find help.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantSettings {
    pub friendly_name: Option<String>,
    pub picture_url: Option<String>,
    pub support_email: Option<String>,
    pub support_url: Option<String>,
}

impl TenantSettings {
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (k, v) in [
            ("friendly_name", &self.friendly_name),
            ("picture_url", &self.picture_url),
            ("support_email", &self.support_email),
            ("support_url", &self.support_url),
        ] {
            if let Some(v) = v {
                out.insert(k.into(), json!(v));
            }
        }
        Value::Object(out)
    }

    pub fn from_stored(v: &Value) -> Self {
        Self::default().patched(v).unwrap_or_default()
    }

    pub fn patched(&self, body: &Value) -> Result<Self, Error> {
        let b = Body::new(body, &["friendly_name", "picture_url", "support_email", "support_url"])?;
        let mut next = self.clone();
        let name = b.string("friendly_name", 1, 100)?;
        if let Patch::Set(n) = &name {
            if n.trim().is_empty() {
                return Err(Error::invalid_field("friendly_name", "must not be blank"));
            }
        }
        name.apply_to(&mut next.friendly_name);
        let picture = b.string("picture_url", 1, 2048)?;
        if let Patch::Set(u) = &picture {
            check_image_url("picture_url", u)?;
        }
        picture.apply_to(&mut next.picture_url);
        let email = b.string("support_email", 1, 320)?;
        if let Patch::Set(e) = &email {
            crate::validate::Email::parse(e).map_err(|reason| Error::invalid_field("support_email", reason))?;
        }
        email.apply_to(&mut next.support_email);
        let url = b.string("support_url", 1, 2048)?;
        if let Patch::Set(u) = &url {
            check_image_url("support_url", u)?;
        }
        url.apply_to(&mut next.support_url);
        Ok(next)
    }
}

impl Branding {
    /// The brand in force: the tenant's and the API's settings over `configured`.
    pub fn effective(configured: &Branding, tenant: &TenantSettings, settings: &BrandingSettings) -> Branding {
        Branding {
            name: tenant.friendly_name.clone().unwrap_or_else(|| configured.name.clone()),
            logo_url: settings
                .logo_url
                .clone()
                .or_else(|| tenant.picture_url.clone())
                .or_else(|| configured.logo_url.clone()),
            primary_color: settings.primary_color.clone().unwrap_or_else(|| configured.primary_color.clone()),
            page_background: settings.page_background.clone().unwrap_or_else(|| configured.page_background.clone()),
        }
    }
}

/// A CSS colour as `#rgb` or `#rrggbb`.
pub fn check_color(field: &str, value: &str) -> Result<(), Error> {
    let hex = value.strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::invalid_field(field, "must be a colour as #rgb or #rrggbb"))
    }
}

/// An image's absolute `http(s)` URL (no `javascript:`, no `data:`, no relative path).
pub fn check_image_url(field: &str, value: &str) -> Result<(), Error> {
    let ok = url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if ok && value.len() <= 2048 {
        Ok(())
    } else {
        Err(Error::invalid_field(field, "must be an absolute http(s) URL of at most 2048 characters"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(Branding::default().validate().is_ok());
        let bad = |f: fn(&mut Branding)| {
            let mut b = Branding::default();
            f(&mut b);
            b.validate().err().and_then(|e| e.field().map(str::to_string))
        };
        assert_eq!(bad(|b| b.primary_color = "red;} body{display:none".into()).as_deref(), Some("primary_color"));
        assert_eq!(bad(|b| b.page_background = "#12345".into()).as_deref(), Some("page_background"));
        assert_eq!(bad(|b| b.logo_url = Some("javascript:alert(1)".into())).as_deref(), Some("logo_url"));
        assert_eq!(bad(|b| b.logo_url = Some("/logo.png".into())).as_deref(), Some("logo_url"));
        assert_eq!(bad(|b| b.name = " ".into()).as_deref(), Some("name"));
        assert_eq!(bad(|b| b.primary_color = "#ABCDEF".into()), None);
    }

    #[test]
    fn settings_patch_like_auth0() {
        let s = BrandingSettings::default()
            .patched(&json!({"colors": {"primary": "#ff6600"}, "logo_url": "https://acme.test/l.png"}))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(s.to_json(), json!({"colors": {"primary": "#ff6600"}, "logo_url": "https://acme.test/l.png"}));
        let s = s.patched(&json!({"logo_url": null})).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(s.logo_url, None);
        assert_eq!(s.primary_color.as_deref(), Some("#ff6600"));
        let e = s.patched(&json!({"colors": {"primary": "red"}})).err();
        assert_eq!(e.as_ref().and_then(Error::field), Some("colors.primary"));
        assert!(s.patched(&json!({"colour": "x"})).is_err());
        let t = TenantSettings::default()
            .patched(&json!({"friendly_name": "Acme"}))
            .unwrap_or_else(|e| unreachable!("{e}"));
        let b = Branding::effective(&Branding::default(), &t, &s);
        assert_eq!((b.name.as_str(), b.primary_color.as_str()), ("Acme", "#ff6600"));
        assert_eq!(b.page_background, Branding::default().page_background);
    }
}
