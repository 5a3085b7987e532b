#!/usr/bin/env python3
"""Template generator for the pantau corpus (Python 3.11, stdlib only).

Writes synthetic posts {text,label,source:"generated",kind} for the 18 kinds of
LABELING.md. Every template below was written from scratch for this project.

Design:
  * rows rotate label -> kind -> participant, so any prefix of the output is
    balanced across labels and kinds, and every participant of the roster shows
    up under all three labels (neutral via news_campaign / news_neutrality /
    factual_mention);
  * noise (slang abbreviations, elongation, ALL CAPS, adjacent-key typos,
    code-mixing interjections, emoji, @mention, URL, hashtag, WA-forward
    wrapper) is applied only to the literal parts of a template, never to a
    participant name, so the participant stays detectable with
    data/participants.tsv;
  * everything is driven by one random.Random(seed): same seed, same output.

Usage:
  python3 data/tools/generate.py -n 300 --seed 7 > /tmp/gen.jsonl
  python3 data/tools/generate.py --check      # self-test: detection + coverage
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTICIPANTS_TSV = HERE.parent / "participants.tsv"

LABEL_KINDS = {
    "neutral": [
        "everyday", "public_service", "news_campaign", "news_neutrality",
        "gotv_general", "election_logistics", "commercial_promo", "factual_mention",
    ],
    "promotional": ["praise_achievement", "praise_character", "subtle_praise", "support_hashtag"],
    "campaigning": [
        "vote_call", "implicit_number_cue", "rally_invite", "fundraising",
        "negative_campaign", "vote_buying",
    ],
}
KIND_LABEL = {k: lab for lab, ks in LABEL_KINDS.items() for k in ks}
LABELS = ["neutral", "promotional", "campaigning"]

# --------------------------------------------------------------------------
# Roster. `name` must equal the first column of data/participants.tsv.
# forms  = full references (always contain a participants.tsv pattern)
# short  = short references (idem)
# t      = pres | party | reg | caleg
# --------------------------------------------------------------------------
ROSTER = [
    dict(name="Anies-Muhaimin", t="pres", no="01",
         forms=["Anies-Muhaimin", "Anies Baswedan dan Muhaimin Iskandar", "pasangan Anies–Cak Imin",
                "Mas Anies dan Gus Imin"],
         short=["Mas Anies", "Pak Anies", "Cak Imin", "Anies"], tag="AniesMuhaimin",
         pos="capres-cawapres nomor urut 01"),
    dict(name="Prabowo-Gibran", t="pres", no="02",
         forms=["Prabowo-Gibran", "Prabowo Subianto dan Gibran Rakabuming Raka", "pasangan Prabowo–Gibran",
                "Pak Prabowo dan Mas Gibran"],
         short=["Pak Prabowo", "Mas Gibran", "Prabowo", "Gibran"], tag="PrabowoGibran",
         pos="capres-cawapres nomor urut 02"),
    dict(name="Ganjar-Mahfud", t="pres", no="03",
         forms=["Ganjar-Mahfud", "Ganjar Pranowo dan Mahfud MD", "pasangan Ganjar–Mahfud",
                "Pak Ganjar dan Prof Mahfud"],
         short=["Pak Ganjar", "Prof Mahfud", "Ganjar", "Mahfud MD"], tag="GanjarMahfud",
         pos="capres-cawapres nomor urut 03"),
    dict(name="PKB", t="party", no="1", forms=["PKB", "Partai Kebangkitan Bangsa (PKB)"], short=["PKB"], tag="PKB"),
    dict(name="Gerindra", t="party", no="2", forms=["Gerindra", "Partai Gerindra"], short=["Gerindra"],
         tag="Gerindra"),
    dict(name="PDIP", t="party", no="3", forms=["PDI Perjuangan", "PDIP"], short=["PDIP"], tag="PDIP"),
    dict(name="Golkar", t="party", no="4", forms=["Golkar", "Partai Golkar"], short=["Golkar"], tag="Golkar"),
    dict(name="NasDem", t="party", no="5", forms=["NasDem", "Partai NasDem"], short=["NasDem"], tag="NasDem"),
    dict(name="Partai Buruh", t="party", no="6", forms=["Partai Buruh"], short=["Partai Buruh"],
         tag="PartaiBuruh"),
    dict(name="Gelora", t="party", no="7", forms=["Partai Gelora"], short=["Partai Gelora"], tag="Gelora"),
    dict(name="PKS", t="party", no="8", forms=["PKS", "Partai Keadilan Sejahtera"], short=["PKS"], tag="PKS"),
    dict(name="Hanura", t="party", no="10", forms=["Hanura", "Partai Hanura"], short=["Hanura"], tag="Hanura"),
    dict(name="PAN", t="party", no="12", forms=["PAN", "Partai Amanat Nasional"], short=["PAN"], tag="PAN"),
    dict(name="Demokrat", t="party", no="14", forms=["Demokrat", "Partai Demokrat"], short=["Demokrat"],
         tag="Demokrat"),
    dict(name="PSI", t="party", no="15", forms=["PSI", "Partai Solidaritas Indonesia"], short=["PSI"], tag="PSI"),
    dict(name="Perindo", t="party", no="16", forms=["Perindo", "Partai Perindo"], short=["Perindo"],
         tag="Perindo"),
    dict(name="PPP", t="party", no="17", forms=["PPP", "Partai Persatuan Pembangunan"], short=["PPP"], tag="PPP"),
    dict(name="Partai Ummat", t="party", no="24", forms=["Partai Ummat"], short=["Partai Ummat"],
         tag="PartaiUmmat"),
    dict(name="Hendra Wijaya – Nur Aini", t="reg", no="1", region="Kabupaten Banyu Asri", seat="bupati",
         forms=["Hendra Wijaya–Nur Aini", "pasangan HENUR", "Pak Hendra Wijaya dan Bu Nur Aini"],
         short=["HENUR", "Pak Hendra Wijaya", "Bu Nur Aini"], tag="HENUR", rival="Rudi Santoso – Yanti Marlina"),
    dict(name="Rudi Santoso – Yanti Marlina", t="reg", no="2", region="Kabupaten Banyu Asri", seat="bupati",
         forms=["Rudi Santoso–Yanti Marlina", "pasangan RUYA", "Pak Rudi Santoso dan Bu Yanti Marlina"],
         short=["RUYA", "Pak Rudi Santoso", "Bu Yanti Marlina"], tag="RUYA", rival="Hendra Wijaya – Nur Aini"),
    dict(name="Bambang Sutrisno – Ahmad Fauzi", t="reg", no="1", region="Kota Tirta Kencana", seat="wali kota",
         forms=["Bambang Sutrisno–Ahmad Fauzi", "pasangan BASA (Bambang Sutrisno–Ahmad Fauzi)",
                "Pak Bambang Sutrisno dan Pak Ahmad Fauzi"],
         short=["Pak Bambang Sutrisno", "Pak Ahmad Fauzi"], tag="BASA", rival="Lina Marlina – Yusuf Hidayat"),
    dict(name="Lina Marlina – Yusuf Hidayat", t="reg", no="2", region="Kota Tirta Kencana", seat="wali kota",
         forms=["Lina Marlina–Yusuf Hidayat", "pasangan LIYU", "Bu Lina Marlina dan Pak Yusuf Hidayat"],
         short=["LIYU", "Bu Lina Marlina", "Pak Yusuf Hidayat"], tag="LIYU", rival="Bambang Sutrisno – Ahmad Fauzi"),
    dict(name="Darmawan Saputra – Fitri Handayani", t="reg", no="3", region="Provinsi Nusa Raya", seat="gubernur",
         forms=["Darmawan Saputra–Fitri Handayani", "pasangan DAFI", "Pak Darmawan Saputra dan Bu Fitri Handayani"],
         short=["DAFI", "Pak Darmawan Saputra", "Bu Fitri Handayani"], tag="DAFI"),
    dict(name="Made Suartana – Ketut Ariani", t="reg", no="1", region="Kabupaten Giri Sari", seat="bupati",
         forms=["Made Suartana–Ketut Ariani", "pasangan Made Suartana dan Ketut Ariani"],
         short=["Pak Made Suartana", "Bu Ketut Ariani"], tag="MadeKetut"),
    dict(name="Andi Pallawa – Rahmat Said", t="reg", no="2", region="Kota Pantai Mas", seat="wali kota",
         forms=["Andi Pallawa–Rahmat Said", "pasangan ANDALAN (Andi Pallawa–Rahmat Said)",
                "Pak Andi Pallawa dan Pak Rahmat Said"],
         short=["Pak Andi Pallawa", "Pak Rahmat Said"], tag="ANDALAN"),
    dict(name="Teuku Ridwan – Cut Nurul", t="reg", no="3", region="Kabupaten Seulawah Raya", seat="bupati",
         forms=["Teuku Ridwan–Cut Nurul", "pasangan Teuku Ridwan dan Cut Nurul"],
         short=["Teuku Ridwan", "Cut Nurul"], tag="RidwanNurul"),
    dict(name="Ujang Sopandi – Euis Komariah", t="reg", no="1", region="Kabupaten Cibening", seat="bupati",
         forms=["Ujang Sopandi–Euis Komariah", "pasangan UJE", "Kang Ujang Sopandi dan Teh Euis Komariah"],
         short=["UJE", "Kang Ujang Sopandi", "Teh Euis Komariah"], tag="UJE"),
    dict(name="Slamet Purnomo – Sri Wahyuni", t="reg", no="2", region="Kabupaten Wonoasri", seat="bupati",
         forms=["Slamet Purnomo–Sri Wahyuni", "pasangan SAPU (Slamet Purnomo–Sri Wahyuni)",
                "Pak Slamet Purnomo dan Bu Sri Wahyuni"],
         short=["Pak Slamet Purnomo", "Bu Sri Wahyuni"], tag="SAPU"),
    dict(name="Yohanes Simanjuntak", t="caleg", no="2", seat="DPR RI Dapil Sumut", region="Sumatera Utara",
         forms=["Yohanes Simanjuntak", "Bang Yohanes Simanjuntak"], short=["Bang Yohanes Simanjuntak"],
         tag="YohanesSimanjuntak"),
    dict(name="Rina Oktaviani", t="caleg", no="3", seat="DPRD Provinsi",
         forms=["Rina Oktaviani", "Bu Rina Oktaviani"], short=["Mbak Rina Oktaviani"], tag="RinaOktaviani"),
    dict(name="H. Mustofa", t="caleg", no="1", seat="DPRD Kabupaten",
         forms=["H. Mustofa", "Pak H. Mustofa"], short=["Abah Mustofa", "Pak Mustofa"], tag="HajiMustofa"),
    dict(name="Dodi Firmansyah", t="caleg", no="27", seat="DPD RI",
         forms=["Dodi Firmansyah", "Pak Dodi Firmansyah"], short=["Bang Dodi Firmansyah"], tag="DodiFirmansyah"),
    dict(name="Ratna Kumalasari", t="caleg", no="5", seat="DPRD Kota",
         forms=["Ratna Kumalasari", "Bu Ratna Kumalasari"], short=["Bu Ratna Kumalasari"], tag="RatnaKumalasari"),
    dict(name="Jufri Siregar", t="caleg", no="4", seat="DPRD Kota",
         forms=["Jufri Siregar", "Bang Jufri Siregar"], short=["Bang Jufri Siregar"], tag="JufriSiregar"),
    dict(name="Ayu Puspitasari", t="caleg", no="1", seat="DPR RI",
         forms=["Ayu Puspitasari", "Mbak Ayu Puspitasari"], short=["Mbak Ayu Puspitasari"], tag="AyuPuspitasari"),
    dict(name="Kholil Anwar", t="caleg", no="2", seat="DPRD Kabupaten",
         forms=["Kholil Anwar", "Gus Kholil Anwar"], short=["Pak Kholil Anwar"], tag="KholilAnwar"),
    dict(name="Fransiskus Lado", t="caleg", no="6", seat="DPRD Provinsi NTT", region="NTT",
         forms=["Fransiskus Lado", "Bapak Fransiskus Lado"], short=["Om Frans Lado"], tag="FransLado"),
    dict(name="Irwan Syahputra", t="caleg", no="3", seat="DPRD Kabupaten",
         forms=["Irwan Syahputra", "Mas Irwan Syahputra"], short=["Mas Irwan Syahputra"], tag="IrwanSyahputra"),
]
BY_NAME = {p["name"]: p for p in ROSTER}
PEOPLE = ("pres", "reg", "caleg")  # templates that need a person (not a party)

# --------------------------------------------------------------------------
# Slot fillers (invented places and handles)
# --------------------------------------------------------------------------
PLACES = ["Lapangan Merdeka", "GOR Kecamatan", "Balai Desa Sukamaju", "alun-alun kota", "Pasar Baru",
          "Kelurahan Sidomulyo", "Kampung Rawa Indah", "Desa Tanjung Sari", "halaman masjid agung",
          "lapangan voli RW 07", "Gedung Serbaguna Melati", "pertigaan Pasar Kliwon", "Desa Cikadu Hilir",
          "Kecamatan Sungai Lebar"]
BIG_REGIONS = ["Jawa Tengah", "Jawa Timur", "Sumatera Utara", "Sulawesi Selatan", "Kalimantan Barat", "NTB",
               "Jawa Barat", "Lampung", "Riau", "Sulawesi Tengah"]
LOCAL_REGIONS = ["Kota Sungai Lebar", "Kabupaten Tanah Datar Baru", "Kota Bukit Mulia", "Kabupaten Rawa Jaya"]
TIMES = ["besok pagi", "Sabtu pagi", "jam 8 pagi", "Minggu sore", "nanti malam ba'da Isya", "pukul 09.00 WIB",
         "lusa", "Jumat siang habis jumatan", "pekan depan"]
DAYS = ["Sabtu (20/1)", "Minggu (28/1)", "Selasa (6/2)", "Kamis (7/11)", "Rabu (13/11)", "Senin kemarin",
        "akhir pekan lalu"]
PEMILU_DATES = ["14 Februari", "tanggal 14", "14 Februari 2024", "Rabu, 14 Februari", "14 Feb nanti"]
PILKADA_DATES = ["27 November", "tanggal 27 nanti", "27 November 2024", "Rabu, 27 November", "27 Nov nanti"]
JOBS = ["guru SD", "bidan desa", "staf kelurahan", "perawat puskesmas", "penyuluh pertanian", "dosen PNS",
        "staf dinas pendidikan", "pegawai kecamatan", "guru honorer", "operator sekolah", "petugas dukcapil"]
PRODUCTS = ["kopi susu gula aren", "paket nasi box", "kaos polos cotton combed", "jasa sablon", "paket data",
            "skincare lokal", "bakso urat", "gamis katun", "sepatu sekolah", "tahu crispy", "es teh jumbo",
            "cilok kuah", "paket laundry kiloan", "kue kering lebaran"]
PRICES = ["35 ribu", "Rp19.900", "50rb", "Rp99.000", "12 ribuan", "Rp 45.000"]
MONEY = ["50rb", "100 ribu", "Rp150.000", "200rb", "seratus ribu", "Rp 75.000", "300 rebu"]
MONEY_BIG = ["3,2 juta", "Rp 12.500.000", "7 juta lebih", "Rp 850 ribu"]
TRAITS = ["merakyat", "jujur", "tegas", "rendah hati", "sabar", "amanah", "santun", "cerdas", "tulus",
          "sederhana", "peduli", "berani"]
EMOJI = ["😊", "🙏", "😂", "👍", "🔥", "💪", "❤️", "🤲", "😅", "🥰", "👏", "😎", "🥹", "✨", "😭", "🤣"]
HANDLES = ["@infowarga_sekitar", "@mas_adit88", "@dinda.ayu", "@kabar_kampung", "@rizky_pratama_",
           "@bu_guru_nita", "@lambe_kecamatan", "@ojolmania", "@sobat.tps", "@anakrantau21"]
NEUTRAL_TAGS = ["#Pemilu2024", "#PemiluDamai", "#InfoWarga", "#Pilkada2024", "#JanganGolput", "#ASNNetral",
                "#KabarHariIni", "#InfoPelayanan"]
SERVICE_TAGS = ["#InfoPelayanan", "#LayananPublik", "#InfoWarga", "#KabarDesa"]
TAG_PATTERNS = ["#Bersama{b}", "#{b}Juara", "#Yakin{b}", "#{b}UntukRakyat", "#{b}PastiBisa", "#Sahabat{b}",
                "#{b}Hebat"]
FINGERS = {"1": "☝️", "01": "☝️", "2": "✌️", "02": "✌️", "3": "3️⃣", "03": "3️⃣"}
KEYCAP = {str(d): f"{d}\ufe0f\u20e3" for d in range(10)}

ACH = {
    "pres": ["gagasan lapangan kerja untuk anak muda yang disusun rapi dan terukur",
             "visi pendidikan yang paling detail di antara semua kandidat",
             "program penguatan UMKM yang angkanya jelas",
             "rekam jejak memimpin yang bisa dicek siapa saja",
             "rencana pemerataan dokter spesialis sampai ke pulau-pulau"],
    "party": ["kader-kader di DPRD yang rajin turun menyerap aspirasi",
              "fraksi yang konsisten memperjuangkan anggaran pendidikan",
              "pendampingan petani dan nelayan yang nyata",
              "bantuan bedah rumah yang betul-betul sampai ke warga",
              "sekolah politik gratis buat anak muda"],
    "reg": ["jalan desa yang mulus sejak mereka menjabat dulu",
            "puskesmas keliling yang masih jalan sampai sekarang",
            "program air bersih yang sudah dinikmati banyak kampung",
            "pasar tradisional yang direnovasi jadi bersih dan tertata",
            "beasiswa anak petani yang dulu mereka rintis"],
    "caleg": ["bank sampah yang dirintis waktu jadi ketua karang taruna",
              "beasiswa rintisannya yang sudah membantu puluhan anak kuliah",
              "pendampingan petani sampai dapat pupuk dan alat mesin",
              "advokasi guru honorer yang akhirnya membuahkan kenaikan honor",
              "perpustakaan keliling yang dia biayai sendiri"],
}
FILLERS = ["Btw cuaca hari ini panas banget.", "Semoga semua sehat selalu.", "Habis ini mau lanjut kerja dulu.",
           "Sambil nunggu hujan reda.", "Maaf kalau tulisannya berantakan, ngetik sambil jalan.",
           "Kopi pagi ini terasa lebih nikmat.", "Anak-anak sudah tidur, baru sempat pegang HP."]
INTERJ_PRE = ["Gaes,", "Lur,", "Bro,", "Btw", "Wkwk", "Duh,", "Eh", "Punten,", "Monggo,"]
INTERJ_POST = ["wkwk", "gaes", "lur", "euy", "bro", "sih", "deh", "atuh", "mah gitu", "cmiiw"]

# --------------------------------------------------------------------------
# Templates: kind -> list of (text, allowed participant types or None).
# Allowed types None = template has no participant slot; "all" = any type.
# --------------------------------------------------------------------------
ALL = ("pres", "party", "reg", "caleg")
T = {
    "everyday": [
        ("Pagi ini hujan deras sekali di {place}, anak-anak jadi telat masuk sekolah {emo}", None),
        ("Habis apel pagi langsung lanjut rekap absensi, capek tapi alhamdulillah kerjaan beres sebelum "
         "makan siang.", None),
        ("Ada yang tahu tukang servis kulkas yang amanah di sekitar {place}? Punya saya mati total dari kemarin.",
         None),
        ("Jadi {job} itu seru, tiap hari ketemu orang baru. Hari ini dapat kiriman pisang goreng dari warga {emo}",
         None),
        ("Macet parah di jalan menuju {place}, mending berangkat lebih awal kalau mau ke sana.", None),
        ("Weekend ini rencana masak rendang buat arisan keluarga. Resep dari almarhumah nenek, semoga berhasil "
         "{emo}", None),
        ("Lagi nunggu antrean di bank, nomor saya masih 47. Sabar sabar {emo}", None),
        ("Selamat ulang tahun buat rekan kerja di kantor kecamatan, semoga sehat selalu dan makin sukses!", None),
        ("Motor mogok di tengah jalan, untung ada bapak-bapak baik hati yang bantu dorong sampai bengkel.", None),
    ],
    "public_service": [
        ("Posyandu balita di {place} dibuka {time}. Bawa buku KIA dan jangan lupa timbang si kecil ya, Bun.",
         None),
        ("Info layanan: perekaman KTP elektronik untuk pemula bisa dilakukan di kantor kecamatan setiap hari "
         "kerja pukul 08.00 sampai 14.00. Gratis, tidak dipungut biaya. {stag}", None),
        ("Pengumuman dari puskesmas: imunisasi lanjutan untuk anak usia sekolah dilaksanakan {time} di {place}.",
         None),
        ("Warga yang belum menerima bantuan pangan bisa melapor ke kantor desa dengan membawa KK dan KTP. {stag}",
         None),
        ("Mohon perhatian, ada pemadaman listrik bergilir untuk wilayah {place} {time}. Siapkan penerangan "
         "cadangan.", None),
        ("Pendaftaran beasiswa daerah untuk siswa berprestasi dibuka sampai akhir bulan. Syarat lengkap ada di "
         "papan pengumuman sekolah.", None),
        ("Kerja bakti membersihkan saluran air di lingkungan RT 03 {time}. Bawa cangkul dan karung masing-masing "
         "ya bapak-bapak.", None),
        ("Pelayanan akta kelahiran sekarang bisa diurus online, tidak perlu antre. Kalau bingung, datang saja ke "
         "loket dukcapil, petugas siap membantu.", None),
    ],
    "news_campaign": [
        ("{p} menggelar kampanye terbuka di {place} pada {day}. Ribuan orang hadir, dan polisi mengerahkan "
         "ratusan personel untuk pengamanan.", ALL),
        ("Hasil survei terbaru sebuah lembaga di {region} menempatkan {p} dengan elektabilitas {pct} persen, "
         "dengan margin of error sekitar 3 persen.", ALL),
        ("Dalam debat semalam, {ps} menyoroti isu harga pangan dan lapangan kerja. Moderator sempat menegur "
         "peserta karena melewati batas waktu.", ("pres", "reg")),
        ("KPU mencatat {p} telah menyerahkan laporan awal dana kampanye tepat waktu. Laporan itu akan diaudit "
         "kantor akuntan publik.", ALL),
        ("Tim pemenangan {p} mengklaim sudah membentuk posko di seluruh kecamatan. Pihak lain menanggapi klaim "
         "itu dengan santai.", ALL),
        ("Rangkuman debat: {ps} banyak bicara soal pendidikan, sementara peserta lain fokus pada infrastruktur. "
         "Penilaian warganet terbelah.", ("pres", "reg")),
        ("Bawaslu {region} menurunkan alat peraga kampanye milik sejumlah peserta, termasuk baliho {p}, karena "
         "dipasang di pohon dan tiang listrik.", ALL),
        ("Barusan lewat {place}, ternyata ada kampanye {p}. Jalan ditutup separuh, yang mau lewat mending "
         "muter.", ALL),
    ],
    "news_neutrality": [
        ("Bawaslu {region} mengingatkan ASN agar tidak memberi tanda suka, berkomentar, atau membagikan unggahan "
         "peserta pemilu di media sosial. Pelanggaran bisa berujung sanksi disiplin.", None),
        ("Seorang {job} di {region} diperiksa setelah fotonya berpose bersama {p} beredar di grup WhatsApp. "
         "Kasusnya kini ditangani instansi terkait.", PEOPLE),
        ("Foto seorang {job} mengenakan rompi {p} saat jam kerja viral. Inspektorat daerah memastikan yang "
         "bersangkutan sudah dipanggil untuk klarifikasi.", ("party",)),
        ("Surat edaran bupati: seluruh pegawai dilarang memasang atribut partai maupun paslon di kantor dan "
         "rumah dinas selama masa kampanye.", None),
        ("Pengingat dari kepala dinas: ASN wajib netral. Kalau ada acara {p} di dekat kantor, jangan ikut "
         "berfoto atau memakai atributnya.", ALL),
        ("KASN menerima ratusan laporan dugaan pelanggaran netralitas ASN menjelang pemungutan suara. Sebagian "
         "besar terkait aktivitas di media sosial.", None),
        ("Sanksi bagi ASN yang terbukti berkampanye, baik untuk {p} maupun peserta lain, bisa berupa penundaan "
         "kenaikan pangkat hingga pemberhentian, kata pejabat BKD setempat.", ALL),
        ("Camat {place} mengumpulkan kepala desa dan perangkatnya untuk sosialisasi netralitas. 'Kita melayani "
         "semua warga, apa pun pilihannya,' ujarnya.", None),
        ("Kepala sekolah di {region} ditegur karena mengizinkan tim {p} membagikan kalender di ruang guru. "
         "Bawaslu menyebut kejadian itu sebagai pelanggaran netralitas.", ALL),
    ],
    "gotv_general": [
        ("Ayo datang ke TPS! Satu suara kita menentukan lima tahun ke depan {emo}", None),
        ("Jangan golput ya, pilih sesuai hati nurani masing-masing.", None),
        ("Buat yang baru pertama kali nyoblos, jangan takut. Datang, bawa KTP, coblos, celup jari. Gampang kok "
         "{emo}", None),
        ("Hari libur pemilu bukan buat rebahan saja. Sempatkan mampir ke TPS dulu baru jalan-jalan {ntag}", None),
        ("Sebagai {job}, saya mengajak semua warga menggunakan hak pilihnya. Siapa pun pilihanmu, yang penting "
         "ikut memilih.", None),
        ("Pemilu bukan cuma urusan orang tua. Anak muda juga harus bersuara! Cek nama kalian di DPT sekarang.",
         None),
        ("Hari H tinggal menghitung hari. Sudah siap ke TPS? Jangan sampai suaramu hilang sia-sia {emo}", None),
        ("Golput bukan solusi. Datang, coblos yang menurutmu paling layak, pulang, ngopi {emo}", None),
    ],
    "election_logistics": [
        ("TPS 12 di {place} dibuka pukul 07.00 dan ditutup pukul 13.00 waktu setempat. Pemilih wajib membawa "
         "KTP elektronik.", None),
        ("Cara cek DPT online: buka situs cek DPT, masukkan NIK, lalu klik cari. Kalau tidak terdaftar, segera "
         "lapor ke PPS.", None),
        ("Surat pemberitahuan C6 sudah dibagikan petugas KPPS tadi sore. Yang belum dapat bisa tanya ke ketua RT.",
         None),
        ("Pemilih pindahan wajib mengurus formulir pindah memilih paling lambat sebulan sebelum hari H di kantor "
         "PPS.", None),
        ("Rekapitulasi suara tingkat kecamatan di {place} berlangsung sampai larut malam. Saksi dari semua "
         "peserta hadir.", None),
        ("Logistik pemilu berupa kotak suara dan bilik sudah tiba di gudang KPU {region}. Distribusi ke desa "
         "dimulai {time}.", None),
        ("Simulasi pemungutan suara digelar di {place}: pemilih diajari cara membuka surat suara, mencoblos, lalu "
         "memasukkannya ke kotak yang benar.", None),
        ("Surat suara yang dicoblos lebih dari satu kolom dianggap tidak sah. Coblos cukup satu kali di kolom "
         "yang dipilih, ya.", None),
    ],
    "commercial_promo": [
        ("PROMO COBLOSAN! Tunjukkan jari bertinta dapat diskon 20% semua menu {product} di kedai kami {emo}",
         None),
        ("Pilih paket hemat A atau B? Dua-duanya untung! {product} mulai {price} aja, order lewat DM.", None),
        ("Diskon pemilu sampai 50% buat {product}. Stok terbatas, buruan sebelum kehabisan!", None),
        ("Giveaway toko kami: follow, like, dan tag 3 teman. Hadiahnya {product} gratis buat 5 pemenang {emo}",
         None),
        ("Coblos keranjangmu sekarang! Flash sale {product} cuma hari ini, gratis ongkir se-{region}.", None),
        ("Menangkan voucher belanja 100 ribu dengan beli {product} minimal dua. Berlaku di semua cabang.", None),
        ("Open PO {product} edisi pesta demokrasi, harga {price}. Siap kirim seminggu setelah pembayaran.", None),
        ("Sudah nyoblos? Mampir sini, {product} beli 2 gratis 1 khusus hari ini {emo}", None),
    ],
    "factual_mention": [
        ("{ps} dijadwalkan berada di {place} {time}, menurut jadwal yang dibagikan panitia.", PEOPLE),
        ("Nama {p} tercantum dalam daftar peserta yang ditetapkan KPU untuk wilayah {region}.", ALL),
        ("{p} mendapat nomor urut {no} dalam pengundian nomor partai politik peserta Pemilu 2024.", ("party",)),
        ("Tadi lewat depan sekretariat {p} di {place}, lagi ada rapat kayaknya, parkiran penuh.", ALL),
        ("{ps} menyerahkan dokumen persyaratan ke KPU didampingi keluarga, Senin pagi.", PEOPLE),
        ("Baliho {p} di perempatan {place} sudah diturunkan petugas karena masa tenang dimulai.", ALL),
        ("Menurut jadwal KPU, {p} tampil sebagai pembicara pertama pada debat {day}.", ("pres", "reg")),
        ("{p} adalah caleg {seat} dengan nomor urut {no}. Daftar lengkap caleg bisa dilihat di papan pengumuman "
         "kelurahan.", ("caleg",)),
        ("Anak saya nanya, {p} itu siapa. Saya jelaskan saja bahwa itu salah satu peserta pemilu tahun ini.",
         ALL),
    ],
    "praise_achievement": [
        ("Salut sama {p}. Lihat saja {ach}. Kerja nyata, bukan cuma janji {emo}", ALL),
        ("Yang bikin saya respek sama {ps} itu {ach}. Jarang ada yang begini.", ALL),
        ("Data tidak bohong: {ach}. Itu capaian {p} yang jarang diberitakan.", ALL),
        ("Sebagai {job}, saya merasakan sendiri manfaatnya: {ach}. Terima kasih {ps}! {emo}", ALL),
        ("Thread singkat soal {p} 🧵 1) {ach}. 2) Konsisten dari dulu. 3) Tidak banyak gimmick. Respect.", ALL),
        ("Bangga punya {p} yang bisa membuktikan {ach}. {tag}", ALL),
        ("Bukan mau lebay, tapi {ach} itu bukti {ps} memang bekerja untuk rakyat kecil.", ALL),
    ],
    "praise_character": [
        ("{ps} itu orangnya {trait} banget, ketemu warga biasa pun disapa duluan {emo}", PEOPLE),
        ("Dari dulu saya kenal {ps}: {trait}, {trait2}, dan tidak pernah sombong.", PEOPLE),
        ("Pemimpin {trait} seperti {p} itu langka di zaman sekarang.", ("pres", "reg")),
        ("Lihat video {ps} makan di warung pinggir jalan tanpa pengawalan, beneran {trait} {emo}", PEOPLE),
        ("Apa pun kata orang, buat saya {p} itu sosok yang {trait} dan bisa dipercaya.", PEOPLE),
        ("Kader {p} yang saya kenal semuanya {trait}, beda sama yang lain {emo}", ("party",)),
        ("Partai yang {trait} dan tidak pernah meninggalkan konstituen ya {p}. Itu pendapat pribadi saya.",
         ("party",)),
        ("Teman kuliah saya pernah satu organisasi dengan {ps}. Katanya dari muda sudah {trait} dan tidak "
         "neko-neko.", PEOPLE),
        ("Orang-orang di {p} itu {trait} dan {trait2}. Diajak diskusi pun tidak pernah emosi.", ("party",)),
    ],
    "subtle_praise": [
        ("Ngeliat cara {ps} dengerin keluhan ibu-ibu pasar tadi, adem banget rasanya {emo}", PEOPLE),
        ("Tadi {ps} mampir ke {place}, nyalamin satu-satu sampai ke tukang parkir. Jarang ada yang kayak gitu.",
         PEOPLE),
        ("Entah kenapa tiap dengar {p} bicara, rasanya tenang. Tidak ada nada marah-marah.", ALL),
        ("Anak saya yang umur 7 tahun saja hafal nama {ps}, katanya 'orangnya baik, Bu' {emo}", PEOPLE),
        ("Anak-anak muda {p} di kampung kami ikut bantu bersihin got pas banjir kemarin. Hal kecil tapi kena di "
         "hati.", ("party",)),
        ("Baru sadar, {p} satu-satunya yang tidak pernah saling sindir di medsos. Adem.", ALL),
        ("Pulang kerja lihat {ps} lagi ngobrol santai sama tukang becak di {place}. Pemandangan yang bikin "
         "senyum {emo}", PEOPLE),
        ("Kantor {p} di dekat rumah selalu buka pintu buat warga yang mau numpang salat dan isi air. Salut.",
         ("party",)),
    ],
    "support_hashtag": [
        ("Bismillah, {p} {emo} {tag}", ALL),
        ("{p} di hati {emo}{emo} {tag} {tag2}", ALL),
        ("Solid, kompak, bersatu bersama {p}! {tag}", ALL),
        ("Mau ke mana pun perginya, hati tetap {ps} 😎 {tag}", ALL),
        ("Semangat terus {p}, kami di belakangmu! {tag}", ALL),
        ("Kaos baru datang, sablonannya {p} {emo} Dipakai buat jalan pagi besok. {tag}", ALL),
        ("Generasi muda {region} bersama {p}. {tag} {tag2}", ALL),
        ("Sehat selalu {ps}, doa kami menyertai {emo} {tag}", ALL),
    ],
    "vote_call": [
        ("{date} jangan lupa coblos {p}! {emo}", ALL),
        ("Ayo menangkan {p}! Ajak keluarga, tetangga, semuanya. {tag}", ALL),
        ("Pilihan saya sudah bulat: {p}. Kamu juga pilih {ps} ya, demi {region} yang lebih baik.", ALL),
        ("Saudara-saudara, mari kita pilih {p} di bilik suara nanti. Jangan sampai salah coblos!", ALL),
        ("Buat yang masih bingung, pilih saja {p}. Sudah terbukti {trait} kok.", ALL),
        ("Titip suara ya lur, {date} coblos {p}. Matur nuwun {emo}", ALL),
        ("Untuk {seat}, jangan lupa pilih {p}, nomor urut {no}. Coblos nama atau nomornya ya!", ("caleg",)),
        ("Coblos {p} nomor {no}, demi perubahan yang nyata!", ALL),
    ],
    "implicit_number_cue": [
        ("Ingat nomornya: {no} {fing} {p}", ALL),
        ("Pokoknya {no}! {fing} {p} {tag}", ALL),
        ("{salam} {fing} Sudah tahu kan maksudnya 😉 {p}", ALL),
        ("Foto bareng keluarga besar, semua pose {salam} {fing} Dukungan penuh buat {ps}", ALL),
        ("{p}? Sudah pasti nomor {no} lah. Hafalkan ya {fing}", ALL),
        ("{date}, ingat {ps}, ingat nomor {no} {fing}", ALL),
        ("Kalau bingung di bilik suara, ingat saja angka {no}, {ps} {fing} {emo}", ALL),
    ],
    "rally_invite": [
        ("Hadir ya besok di {place}! Kampanye akbar {p} mulai {time}. Ada hiburan musik juga {emo}", ALL),
        ("Dibuka pendaftaran relawan {p} untuk wilayah {region}. Yang mau gabung, isi formulir di link bio.", ALL),
        ("Undangan: deklarasi dukungan untuk {p} di {place}, {time}. Mohon hadir tepat waktu. *Mohon "
         "disebarkan*", ALL),
        ("Yuk ramaikan jalan sehat bareng {ps} {time}. Start dari {place}, pakai kaos putih ya!", ALL),
        ("Relawan {p} kumpul malam ini di posko {place} buat bagi tugas door to door. Jangan telat!", ALL),
        ("Kami mengundang bapak ibu sekalian hadir dalam silaturahmi dan kampanye dialogis bersama {p}. Tempat: "
         "{place}. Waktu: {time}.", ALL),
        ("Siapa yang mau ikut konvoi dukung {ps} hari Minggu? Komen di bawah, nanti dimasukkan ke grup {emo}",
         ALL),
    ],
    "fundraising": [
        ("Yuk patungan buat dana kampanye {p}! Transfer ke rekening relawan, berapa pun sangat berarti {emo}", ALL),
        ("Open donasi untuk cetak spanduk dan kaos {p}. Laporan penggunaan dana kami perbarui tiap minggu.", ALL),
        ("Kami relawan {p} menggalang dana gotong royong untuk honor saksi TPS. Sumbangan mulai 10 ribu.", ALL),
        ("Sisihkan uang jajanmu buat perjuangan {ps}. Donasi lewat QRIS di poster ini ya.", ALL),
        ("Lelang peci yang dipakai {ps} waktu kunjungan ke {place}. Seluruh hasilnya untuk dana pemenangan.",
         PEOPLE),
        ("Alhamdulillah donasi untuk logistik kampanye {p} sudah terkumpul {money_big}. Masih kurang sedikit, "
         "ayo bantu!", ALL),
        ("Konser amal relawan {p} {time} di {place}: tiket 25 ribu, semua hasil masuk kas pemenangan.", ALL),
    ],
    "negative_campaign": [
        ("Jangan pilih {p}! Janjinya dulu mana? Nol besar.", ALL),
        ("Ingat ya, {p} itu cuma jago pencitraan. Mending pilih yang lain daripada menyesal lima tahun.", ALL),
        ("Sudah cukup dikecewakan. {date} jangan coblos {ps}, titik.", ALL),
        ("Kalau masih sayang {region}, jangan kasih suaramu ke {p}. Rekam jejaknya tidak meyakinkan. Sebarkan!",
         ALL),
        ("*Mohon disebarkan* {p} dikelilingi orang-orang lama yang itu-itu saja. Jangan biarkan mereka menang, "
         "alihkan suara ke {p2}!", "rival"),
        ("{ps} cuma omong doang. Pas debat saja gelagapan. Jangan sampai kita pilih dia {emo}", PEOPLE),
        ("Warga {region} jangan tertipu lagi sama {p}. Pilih {p2} yang sudah terbukti!", "rival"),
        ("Program {p} tidak masuk akal, cuma angin surga. Tolong jangan dicoblos.", ALL),
    ],
    "vote_buying": [
        ("Yang mau amplop {money}, besok subuh kumpul di rumah Pak RT. Syaratnya coblos {p}.", ALL),
        ("Dapat sembako dari tim {p}: beras 5 kilo, minyak, gula. Katanya asal nanti pilih nomor {no}.", ALL),
        ("Info dari korlap: tiap KK dapat {money} asal fotokan surat suara yang sudah dicoblos {ps}. Japri saja.",
         ALL),
        ("Warga yang mau ikut barisan {p} dikasih uang transport {money} plus nasi kotak, tinggal setor KTP dan "
         "janji coblos.", ALL),
        ("Lumayan, {money} cuma buat coblos {p}. Yang minat daftar ke saya sebelum hari H {emo}", ALL),
        ("*Mohon dirahasiakan* Pembagian bingkisan dari {p} malam ini jam 11 di {place}. Ingat, suara keluarga "
         "harus ke nomor {no}.", ALL),
        ("Token listrik gratis {money} buat yang mau tanda tangan surat dukungan dan nyoblos {ps}. Terbatas!",
         ALL),
    ],
}

FORMAL_KINDS = {"news_campaign", "news_neutrality", "election_logistics", "public_service"}

# --------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------
SLANG = {
    "yang": ["yg"], "tidak": ["gak", "ga", "nggak", "tdk", "enggak"], "dengan": ["dgn", "sama"],
    "karena": ["krn", "karna"], "sudah": ["udh", "udah", "sdh"], "banget": ["bgt", "bngt"],
    "saja": ["aja", "aj"], "saya": ["sy", "aku", "gue"], "untuk": ["utk", "buat"], "juga": ["jg"],
    "bagus": ["bgs"], "sekarang": ["skrg"], "belum": ["blm"], "kalau": ["kalo", "klo"], "tapi": ["tp"],
    "lagi": ["lg"], "orang": ["org"], "bisa": ["bs"], "sama": ["sm"], "dulu": ["dl"], "bagaimana": ["gmn"],
    "seperti": ["kayak", "kyk"], "jangan": ["jgn"], "banyak": ["byk"], "besok": ["bsk"], "semua": ["smua"],
    "memang": ["emang", "emg"], "benar": ["bener"], "teman": ["temen"], "lihat": ["liat"], "tahu": ["tau"],
    "kemarin": ["kmrn", "kemaren"], "terus": ["trus"], "dapat": ["dapet", "dpt"], "mau": ["mo"],
    "tadi": ["td"], "aja": ["aj"], "nggak": ["gk", "ga"], "cuma": ["cm"], "pakai": ["pake"],
}
PHRASE_SLANG = {"terima kasih": ["makasih", "trims", "thx"], "bapak ibu": ["bapak2 ibu2"]}
QWERTY_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
NEIGH: dict[str, str] = {}
for _r, _row in enumerate(QWERTY_ROWS):
    for _i, _c in enumerate(_row):
        n = ""
        if _i > 0:
            n += _row[_i - 1]
        if _i + 1 < len(_row):
            n += _row[_i + 1]
        NEIGH[_c] = n

WORD_RE = re.compile(r"[A-Za-z]+")
SLOT_RE = re.compile(r"(\{[a-z_0-9]+\})")


def _keep_case(src: str, rep: str) -> str:
    if src.isupper() and len(src) > 1:
        return rep.upper()
    if src[:1].isupper():
        return rep[:1].upper() + rep[1:]
    return rep


def slangify(seg: str, rng: random.Random, p: float) -> str:
    for ph, reps in PHRASE_SLANG.items():
        if ph in seg.lower() and rng.random() < p:
            seg = re.sub(re.escape(ph), rng.choice(reps), seg, flags=re.IGNORECASE)

    def rep(m: re.Match) -> str:
        w = m.group(0)
        r = SLANG.get(w.lower())
        if r and rng.random() < p:
            return _keep_case(w, rng.choice(r))
        return w
    return WORD_RE.sub(rep, seg)


def _pick_word(segs: list[str], rng: random.Random, minlen: int,
               elong: bool = False) -> tuple[int, re.Match] | None:
    cands = []
    for si, s in enumerate(segs):
        if SLOT_RE.fullmatch(s):
            continue
        for m in WORD_RE.finditer(s):
            w = m.group(0).lower()
            if len(w) < minlen:
                continue
            # elongate only real words ending in a vowel or a soft consonant (bangettt, kerennn, ayooo)
            if elong and (w[-1] not in "aiueongthk" or not re.search(r"[aiueo]", w[:-1])):
                continue
            cands.append((si, m))
    return rng.choice(cands) if cands else None


def _replace(segs: list[str], si: int, m: re.Match, new: str) -> None:
    s = segs[si]
    segs[si] = s[:m.start()] + new + s[m.end():]


def elongate(segs: list[str], rng: random.Random) -> None:
    pick = _pick_word(segs, rng, 3, elong=True)
    if pick:
        si, m = pick
        w = m.group(0)
        _replace(segs, si, m, w + w[-1] * rng.randint(2, 4))


def typo(segs: list[str], rng: random.Random) -> None:
    pick = _pick_word(segs, rng, 4)
    if not pick:
        return
    si, m = pick
    w = m.group(0)
    i = rng.randrange(1, len(w) - 1)
    if rng.random() < 0.5:  # swap two adjacent letters
        w2 = w[:i] + w[i + 1] + w[i] + w[i + 2:]
    else:  # hit the neighbouring key
        c = w[i].lower()
        nb = NEIGH.get(c)
        if not nb:
            return
        k = rng.choice(nb)
        w2 = w[:i] + (k.upper() if w[i].isupper() else k) + w[i + 1:]
    _replace(segs, si, m, w2)


def shout_word(segs: list[str], rng: random.Random) -> None:
    pick = _pick_word(segs, rng, 4)
    if pick:
        si, m = pick
        _replace(segs, si, m, m.group(0).upper())


def rand_url(rng: random.Random) -> str:
    alnum = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    code = "".join(rng.choice(alnum) for _ in range(rng.randint(5, 8)))
    return rng.choice(["https://bit.ly/", "https://t.co/", "t.co/", "bit.ly/", "https://s.id/"]) + code


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------
def _number_cue(no: str) -> tuple[str, str]:
    if no in FINGERS:
        fing = FINGERS[no]
    else:
        fing = "".join(KEYCAP[d] for d in no)
    n = int(no)
    salam = f"salam {n} jari" if n <= 5 else f"salam nomor {no}"
    return fing, salam


def _fill(template: str, part: dict | None, rng: random.Random, kind: str) -> str:
    vals: dict[str, str] = {}
    t = part["t"] if part else None
    if part:
        vals["p"] = rng.choice(part["forms"])
        vals["ps"] = rng.choice(part["short"])
        vals["no"] = part["no"]
        vals["fing"], vals["salam"] = _number_cue(part["no"])
        vals["seat"] = part.get("seat", "")
        b = part["tag"]
        tags = rng.sample(TAG_PATTERNS, 2)
        vals["tag"] = tags[0].format(b=b)
        vals["tag2"] = tags[1].format(b=b)
        vals["ach"] = rng.choice(ACH[t])
        if t == "reg":
            vals["region"] = part["region"]
            vals["date"] = rng.choice(PILKADA_DATES)
        else:
            vals["region"] = part.get("region") or rng.choice(BIG_REGIONS if t in ("pres", "party")
                                                              else LOCAL_REGIONS)
            vals["date"] = rng.choice(PEMILU_DATES)
        if "{p2}" in template:
            if part.get("rival"):
                rv = BY_NAME[part["rival"]]
            else:
                same = [q for q in ROSTER if q["t"] == t and q is not part]
                rv = rng.choice(same)
            vals["p2"] = rng.choice(rv["forms"])
    else:
        vals["region"] = rng.choice(BIG_REGIONS + LOCAL_REGIONS)
        vals["date"] = rng.choice(PEMILU_DATES + PILKADA_DATES)
    tr = rng.sample(TRAITS, 2)
    vals.update(
        place=rng.choice(PLACES), time=rng.choice(TIMES), day=rng.choice(DAYS), job=rng.choice(JOBS),
        product=rng.choice(PRODUCTS), price=rng.choice(PRICES), money=rng.choice(MONEY),
        money_big=rng.choice(MONEY_BIG), trait=tr[0], trait2=tr[1], emo=rng.choice(EMOJI),
        ntag=rng.choice(NEUTRAL_TAGS), stag=rng.choice(SERVICE_TAGS), pct=f"{rng.randint(9, 47)},{rng.randint(0, 9)}",
    )
    formal = kind in FORMAL_KINDS
    segs = [s for s in SLOT_RE.split(template) if s]
    # ---- noise on literal segments only (names live in slots) ----
    if not formal:
        if rng.random() < 0.65:
            p = rng.choice([0.4, 0.7, 1.0])
            segs = [s if SLOT_RE.fullmatch(s) else slangify(s, rng, p) for s in segs]
        if rng.random() < 0.3:
            elongate(segs, rng)
        for _ in range(rng.choice([0, 0, 0, 0, 0, 1, 1, 2])):
            typo(segs, rng)
        if rng.random() < 0.15:
            shout_word(segs, rng)
    elif rng.random() < 0.1:
        typo(segs, rng)
    text = "".join(vals[s[1:-1]] if SLOT_RE.fullmatch(s) else s for s in segs)
    # ---- decorations on the whole post ----
    if not formal:
        if rng.random() < 0.15:
            text = f"{rng.choice(INTERJ_PRE)} {text[:1].lower()}{text[1:]}"
        if rng.random() < 0.15:
            text = f"{text.rstrip('.')} {rng.choice(INTERJ_POST)}"
        if rng.random() < 0.2:
            text = f"{text} {rng.choice(FILLERS)}"
        if rng.random() < 0.07:
            text = text.upper()
        if rng.random() < 0.25:
            text += " " + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.12:
            text = f"{rng.choice(HANDLES)} {text}"
        if rng.random() < 0.06:
            text = rng.choice(["--- forwarded ---\n", "*Diteruskan dari grup sebelah*\n"]) + text
    if rng.random() < 0.1:
        text = f"{text} {rand_url(rng)}"
    if KIND_LABEL[kind] == "neutral" and rng.random() < 0.12:
        text = f"{text} {rng.choice(NEUTRAL_TAGS)}"
    return re.sub(r"[ \t]+", " ", text).strip()


def _compatible(kind: str, part: dict) -> list[str]:
    out = []
    for text, allowed in T[kind]:
        if allowed is None:
            continue
        if allowed == "rival":
            if part["t"] == "reg" and not part.get("rival"):
                continue
            out.append(text)
        elif part["t"] in allowed:
            out.append(text)
    return out


def participant_order(seed: int) -> list[dict]:
    """Fixed interleaving of participant types (pres/party/reg/caleg mixed)."""
    rng = random.Random(seed * 7919 + 17)
    pools = {t: [p for p in ROSTER if p["t"] == t] for t in ALL}
    for v in pools.values():
        rng.shuffle(v)
    order, i = [], 0
    while any(pools.values()):
        t = ALL[i % 4]
        if pools[t]:
            order.append(pools[t].pop())
        i += 1
    return order


def generate(n: int, seed: int = 2024):
    """Yield n rows {text,label,source,kind}; any prefix is label/kind balanced."""
    rng = random.Random(seed)
    order = participant_order(seed)
    kind_ctr = {lab: 0 for lab in LABELS}
    part_ctr: dict[str, int] = {}
    for i in range(n):
        label = LABELS[i % 3]
        kinds = LABEL_KINDS[label]
        kind = kinds[kind_ctr[label] % len(kinds)]
        kind_ctr[label] += 1
        has_p = [tx for tx, al in T[kind] if al is not None]
        no_p = [tx for tx, al in T[kind] if al is None]
        part = None
        template = None
        # kinds with mixed templates (news_neutrality): half the time use a participant one
        use_p = bool(has_p) and (not no_p or rng.random() < 0.6)
        if use_p:
            c = part_ctr.get(kind, 0)
            # offset per kind so that kinds do not all start with the same name
            part = order[(c + 5 * kinds.index(kind) + 3 * LABELS.index(label)) % len(order)]
            part_ctr[kind] = c + 1
            template = rng.choice(_compatible(kind, part))
        else:
            template = rng.choice(no_p)
        text = _fill(template, part, rng, kind)
        yield {"text": text, "label": label, "source": "generated", "kind": kind}


# --------------------------------------------------------------------------
# Participant matching (same rules as documented in data/README.md)
# --------------------------------------------------------------------------
URL_RE = re.compile(r"(?:https?://|www\.)\S+|\b(?:[a-z0-9-]+\.)+(?:ly|co|id|com|me|io|net|org)/\S*", re.I)
MENTION_RE = re.compile(r"@[\w.]+")


def load_participants(path: Path = PARTICIPANTS_TSV) -> list[tuple[str, list[tuple[str, ...]]]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        name, pats = line.split("\t")
        out.append((name, [tuple(p.split()) for p in pats.split("|")]))
    return out


def match_tokens(text: str) -> list[str]:
    t = unicodedata.normalize("NFKC", text).lower()
    t = URL_RE.sub(" ", t)
    t = MENTION_RE.sub(" ", t)
    t = t.replace("#", "")
    return re.findall(r"[^\W_]+", t)


def find_participants(text: str, parts) -> list[str]:
    toks = match_tokens(text)
    found = []
    for name, pats in parts:
        for pat in pats:
            k = len(pat)
            if any(tuple(toks[i:i + k]) == pat for i in range(len(toks) - k + 1)):
                found.append(name)
                break
    return found


def self_check(n: int = 3000, seed: int = 2024) -> int:
    parts = load_participants()
    names = {nm for nm, _ in parts}
    missing = [p["name"] for p in ROSTER if p["name"] not in names]
    if missing:
        print("roster names missing from participants.tsv:", missing)
        return 1
    # template count per kind
    for kind in KIND_LABEL:
        if len(T[kind]) < 6:
            print("too few templates for", kind)
            return 1
    # each form must be detected as exactly its participant
    bad = 0
    for p in ROSTER:
        for f in p["forms"] + p["short"]:
            got = find_participants(f, parts)
            if got != [p["name"]]:
                print("form not detected uniquely:", p["name"], repr(f), got)
                bad += 1
    rows = list(generate(n, seed))
    cover = {p["name"]: {lab: 0 for lab in LABELS} for p in ROSTER}
    for r in rows:
        for nm in find_participants(r["text"], parts):
            cover[nm][r["label"]] += 1
    for nm, c in cover.items():
        if min(c.values()) == 0:
            print("participant lacks a label:", nm, c)
            bad += 1
    print(f"checked {len(rows)} rows; min per participant/label = "
          f"{min(min(c.values()) for c in cover.values())}; problems = {bad}")
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--check", action="store_true", help="run the self-test instead of writing rows")
    a = ap.parse_args()
    if a.check:
        return self_check(seed=a.seed)
    lines = [json.dumps(r, ensure_ascii=False) for r in generate(a.n, a.seed)]
    if a.out:
        a.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
