// Kit uploads with progress: a form marked data-upload="<progress id>" is sent with XMLHttpRequest, so that
// upload.onprogress can move its labelled <progress>; the portal's answer (a redirect, or a page with the
// errors) is then shown as if the form had been sent the ordinary way. Without JavaScript the plain form works.
(function () {
  "use strict";

  // The form's address. Not `form.action`: a field named "action" (the save/preview buttons) shadows it.
  function target(form) {
    return new URL(form.getAttribute("action") || "", document.baseURI).href;
  }

  function showAnswer(xhr, form) {
    if (xhr.status < 400 && xhr.responseURL && xhr.responseURL !== target(form)) {
      window.location.assign(xhr.responseURL); // the redirect after a successful upload (a preview is not one)
      return;
    }
    var answer = new DOMParser().parseFromString(xhr.responseText, "text/html");
    document.title = answer.title;
    document.body.replaceWith(document.adoptNode(answer.body));
    enhance(document);
    var problem = document.querySelector(".error, [role=alert]");
    if (problem) {
      problem.scrollIntoView();
    }
  }

  function send(form, progress, button, data) {
    var xhr = new XMLHttpRequest();
    xhr.open("POST", target(form));
    xhr.upload.onprogress = function (event) {
      if (event.lengthComputable && progress) {
        var percent = Math.round((event.loaded / event.total) * 100);
        progress.value = percent;
        progress.textContent = percent + "%";
      }
    };
    xhr.onload = function () {
      showAnswer(xhr, form);
    };
    xhr.onerror = function () {
      if (button) {
        button.disabled = false;
      }
      form.submit(); // the network failed under the script: let the browser try and say what happened
    };
    xhr.send(data); // the CSRF token comes first: it is the form's first field
  }

  function enhance(root) {
    var forms = root.querySelectorAll("form[data-upload]");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.FormData || !window.DOMParser) {
          return;
        }
        event.preventDefault();
        var progress = document.getElementById(form.getAttribute("data-upload"));
        var button = event.submitter || form.querySelector("button[type=submit]");
        var data = new FormData(form);
        if (button && button.name) {
          data.append(button.name, button.value); // which button: save, or preview
        }
        if (button) {
          button.disabled = true;
        }
        send(form, progress, button, data);
      });
    });
  }

  enhance(document);
})();
